"""PEFT loads an adapter trained by medtune, and its logits are the golden values medtune must match.

Pinned: transformers==5.24.0, peft==0.21.2, torch==2.13.0+cpu, gguf==0.19.0.
The adapter in Tests/Golden/Transformer/medtune-adapter was written by
    medtune train --lora-r 2 --lora-alpha 4 --target-modules q_proj --max-steps 2 --eval-steps 2 \
        --save-steps 2 --learning-rate 5e-3 --output-dir OUT
(the built-in demo recipe otherwise). Run from the repository root after scripts/fetch-assets.sh:
    python scripts/golden/peft_loads_medtune_adapter.py
Writes Tests/Golden/Transformer/medtune_adapter_logits.json: for the prompts of qwen_forward.json,
the last position's logits at the 64 highest ids and 192 probe ids, and logsumexp.
"""
import json, os
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.environ.get("MEDTUNE_ASSETS", os.path.join(ROOT, ".cache", "assets"))
GOLDEN = os.path.join(ROOT, "Tests", "Golden", "Transformer")
torch.set_num_threads(max(1, os.cpu_count() or 1))

prompts = json.load(open(os.path.join(GOLDEN, "qwen_forward.json")))["prompts"]
model = AutoModelForCausalLM.from_pretrained(ASSETS, gguf_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", dtype=torch.float32)
model = PeftModel.from_pretrained(model, os.path.join(GOLDEN, "medtune-adapter")).eval()
probe_ids = torch.randperm(model.config.vocab_size, generator=torch.Generator().manual_seed(99))[:192].tolist()
results = []
with torch.no_grad():
    for ids in prompts:
        logits = model(torch.tensor([ids])).logits[0, -1].double()
        top = torch.topk(logits, 64).indices.tolist()
        chosen = top + [i for i in probe_ids if i not in top]
        results.append({"ids": chosen, "values": [logits[i].item() for i in chosen], "logsumexp": torch.logsumexp(logits, 0).item()})
json.dump({"versions": {"transformers": __import__("transformers").__version__, "peft": __import__("peft").__version__},
           "last_logits": results}, open(os.path.join(GOLDEN, "medtune_adapter_logits.json"), "w"))
