# bert_score scoring the same pairs on the CPU (a peer of `medtune bench`; packages pinned in requirements.txt).
import json, sys, time
request = json.load(open(sys.argv[1]))
start = time.perf_counter()
import torch, bert_score
from importlib.metadata import version
imported = time.perf_counter()
(P, R, F) = bert_score.score(request["candidates"], request["references"], model_type=request["bert"],
                             num_layers=request["layer"], device="cpu", batch_size=64)
json.dump({"seconds": time.perf_counter() - start, "importSeconds": imported - start,
           "f1": [float(x) for x in F], "threads": torch.get_num_threads(),
           "version": version("bert-score"), "python": sys.executable}, sys.stdout)
