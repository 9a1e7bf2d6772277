"""Golden hidden states of a micro BERT whose weights fit in a JSON file, for testing medtune's
BERT encoder independently of any model file format.

Pinned: transformers 5.24.0, torch 2.13 (CPU).

A seeded random BertModel (vocabulary 40, hidden 12, 3 heads, 2 layers, feed-forward 20, 16
positions), every parameter random (LayerNorm gains and biases included). Hidden states of every
layer (0 = embeddings) for a few sequences run as one padded batch with an attention mask, so the
padding mask is part of what is checked.

Writes Tests/Golden/Evaluator/bert_micro.json.
Run from the repository root:  /work/venv/bin/python scripts/golden/bert_micro_golden.py
"""
import json
import os

import torch
import transformers
from transformers import BertConfig, BertModel

assert transformers.__version__ == "5.24.0"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Golden", "Evaluator", "bert_micro.json")


def main():
    torch.manual_seed(99)
    config = BertConfig(vocab_size=40, hidden_size=12, num_hidden_layers=2, num_attention_heads=3,
                        intermediate_size=20, max_position_embeddings=16, type_vocab_size=2,
                        hidden_act="gelu", layer_norm_eps=1e-12)
    model = BertModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if "LayerNorm" not in name else 0.2) + (1 if "LayerNorm.weight" in name else 0))
    sequences = [[2, 17, 5, 33, 3], [2, 9, 3], [2, 1, 1, 38, 22, 14, 7, 30, 3], [2, 3]]
    longest = max(map(len, sequences))
    ids = torch.tensor([s + [0] * (longest - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in sequences])
    with torch.no_grad():
        out = model(ids, attention_mask=mask, output_hidden_states=True)
    hidden = [[out.hidden_states[l][i, : len(s)].tolist() for l in range(3)] for i, s in enumerate(sequences)]
    weights = {k: {"shape": list(v.shape), "values": v.flatten().tolist()}
               for k, v in model.state_dict().items() if not k.startswith("pooler") and "position_ids" not in k}
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/golden/bert_micro_golden.py",
                   "config": {"vocab_size": 40, "hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
                              "intermediate_size": 20, "max_position_embeddings": 16, "type_vocab_size": 2},
                   "weights": weights, "sequences": sequences, "hidden_states": hidden}, f)


if __name__ == "__main__":
    main()
