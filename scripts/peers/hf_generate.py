# HF transformers generation: prefill and decode throughput on the CPU (a peer of `medtune bench`; packages pinned in requirements.txt).
import json, sys, time
import torch
from transformers import AutoModelForCausalLM
path, prompt_tokens, new_tokens, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
batches = [int(b) for b in sys.argv[5].split(",")]
torch.set_num_threads(threads)
import os
if path.endswith(".gguf"):
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path), dtype=torch.float32)
else:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
model.eval()
results = {}
with torch.inference_mode():
    for b in batches:
        ids = torch.randint(1000, 21000, (b, prompt_tokens))
        start = time.perf_counter(); model(ids); prefill = time.perf_counter() - start
        short = ids[:, :8]
        kwargs = dict(do_sample=False, pad_token_id=0, eos_token_id=None, attention_mask=torch.ones_like(short))
        start = time.perf_counter(); model.generate(short, max_new_tokens=1, min_new_tokens=1, **kwargs); first = time.perf_counter() - start
        start = time.perf_counter(); model.generate(short, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kwargs); total = time.perf_counter() - start
        results[str(b)] = {"prefill": b * prompt_tokens / prefill, "decode": b * (new_tokens - 1) / max(total - first, 1e-9)}
print(json.dumps(results))
