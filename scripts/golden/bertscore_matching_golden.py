"""Golden values for BERTScore's matching step alone: bert_score.utils.greedy_cos_idf on small
seeded random embeddings, no model involved.

Pinned: bert-score 0.3.13, torch 2.13 (CPU).

The pairs of one call form one bert_score batch: each sentence is padded to the batch's longest
with bert_score's padding value 2.0, and a padded position scores 0 in the similarity matrix.
Random embeddings have many negative cosines, so this exercises bert_score's quirk that a token
whose best real match is negative gets 0 instead, when the other side of its pair was padded.

Writes Tests/Golden/Evaluator/bertscore_matching.json.
Run from the repository root:  /work/venv/bin/python scripts/golden/bertscore_matching_golden.py
"""
import json
import os

import torch
from torch.nn.utils.rnn import pad_sequence
from bert_score.utils import greedy_cos_idf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Golden", "Evaluator", "bertscore_matching.json")


def pad(embs, idfs):
    lens = torch.tensor([e.size(0) for e in embs])
    emb = pad_sequence(embs, batch_first=True, padding_value=2.0)
    idf = pad_sequence(idfs, batch_first=True)
    mask = torch.arange(int(lens.max())).expand(len(embs), -1) < lens.unsqueeze(1)
    return emb, mask, idf


def main():
    torch.manual_seed(7)
    dim = 8
    batches = []
    for lengths in ([(5, 3), (2, 6), (7, 7), (4, 2)], [(3, 3), (2, 2)], [(2, 5), (6, 4), (3, 2)]):
        pairs = []
        for hyp_len, ref_len in lengths:
            hyp = torch.randn(hyp_len, dim)
            ref = torch.randn(ref_len, dim)
            hyp_idf = torch.rand(hyp_len)
            ref_idf = torch.rand(ref_len)
            hyp_idf[0] = hyp_idf[-1] = 0  # [CLS], [SEP]
            ref_idf[0] = ref_idf[-1] = 0
            pairs.append((hyp, hyp_idf, ref, ref_idf))
        ref_stats = pad([p[2].clone() for p in pairs], [p[3].clone() for p in pairs])
        hyp_stats = pad([p[0].clone() for p in pairs], [p[1].clone() for p in pairs])
        P, R, F = greedy_cos_idf(*ref_stats, *hyp_stats)
        batches.append({
            "pairs": [{"candidate": h.tolist(), "candidate_idf": hi.tolist(),
                       "reference": r.tolist(), "reference_idf": ri.tolist()} for h, hi, r, ri in pairs],
            "P": P.tolist(), "R": R.tolist(), "F": F.tolist()})
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/golden/bertscore_matching_golden.py", "dim": dim, "batches": batches}, f)


if __name__ == "__main__":
    main()
