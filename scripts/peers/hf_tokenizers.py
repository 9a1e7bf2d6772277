# HF tokenizers encoding the same texts (a peer of `medtune bench`; packages pinned in requirements.txt).
import json, os, sys, time
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1])
tokenizer.no_truncation()
tokenizer.no_padding()
workloads = json.load(open(sys.argv[2], encoding="utf-8"))
repeats = int(sys.argv[3])
def checksum(value, ids):
    for index, token in enumerate(ids):
        value = (value + (index % 1009 + 1) * (token + 1)) % 1000000007
    return value
results = []
for texts in workloads:
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        encoded = [tokenizer.encode(text, add_special_tokens=False).ids for text in texts]
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    value = 0
    for ids in encoded:
        value = checksum(value, ids)
    results.append({"tokens": sum(len(ids) for ids in encoded), "seconds": best, "checksum": value})
print(json.dumps(results))
