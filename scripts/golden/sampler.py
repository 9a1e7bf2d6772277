"""Golden outputs of HF transformers' logits processors, for medtune's Sampler.

Pinned: transformers==5.24.0, torch==2.13.0+cpu. Run from the repository root:
    python scripts/golden/sampler.py > Tests/Golden/Generator/sampler.json
Each case: raw logits, the ids the repetition penalty sees, the options, and the scores after
the processors (removed tokens as null), in the order HF applies them.
"""
import json
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
    TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper)

torch.manual_seed(0)
cases = []
options = [
    dict(repetition_penalty=1.3, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0),
    dict(repetition_penalty=1.0, temperature=0.7, top_k=10, top_p=1.0, min_p=0.0),
    dict(repetition_penalty=1.0, temperature=1.0, top_k=0, top_p=0.8, min_p=0.0),
    dict(repetition_penalty=1.0, temperature=1.0, top_k=0, top_p=1.0, min_p=0.1),
    dict(repetition_penalty=1.15, temperature=0.6, top_k=20, top_p=0.95, min_p=0.05),
    dict(repetition_penalty=0.8, temperature=1.4, top_k=5, top_p=0.5, min_p=0.0),
]
for i, o in enumerate(options):
    for scale in (1.0, 4.0):
        logits = (torch.randn(1, 64) * scale).float()
        logits[0, 7] = logits[0, 3]  # a tie
        history = torch.tensor([[3, 9, 9, 17, 40, 63]])
        procs = LogitsProcessorList()
        if o["repetition_penalty"] != 1.0:
            procs.append(RepetitionPenaltyLogitsProcessor(o["repetition_penalty"]))
        if o["temperature"] != 1.0:
            procs.append(TemperatureLogitsWarper(o["temperature"]))
        if o["top_k"] != 0:
            procs.append(TopKLogitsWarper(o["top_k"]))
        if o["top_p"] < 1.0:
            procs.append(TopPLogitsWarper(o["top_p"]))
        if o["min_p"] > 0:
            procs.append(MinPLogitsWarper(o["min_p"]))
        out = procs(history, logits.clone())[0]
        cases.append(dict(options=o, logits=logits[0].tolist(), history=history[0].tolist(),
                          processed=[None if v == float("-inf") else v for v in out.tolist()]))
print(json.dumps({"transformers": __import__("transformers").__version__, "cases": cases}))
