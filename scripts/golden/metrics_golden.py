"""Golden values for medtune's text-overlap metrics: chrF and character-level ROUGE-L.

Pinned: sacrebleu 2.6.0, rouge-score 0.1.2 (pip install sacrebleu==2.6.0 rouge-score==0.1.2).

chrF: sacrebleu's sentence chrF with its defaults (character n-grams up to 6, no word n-grams,
beta 2, whitespace removed, case kept), scale 0-100.

ROUGE-L: rouge_score's LCS-based F-measure, with the tokenisation medtune uses (`MixedScriptTokenizer`
below, mirrored in Sources/Evaluator/Metrics/MetricTokenizer.swift): every CJK ideograph, kana or
hangul syllable is a token of its own; other runs of letters and digits (Unicode categories L* and
N*) are words, lower-cased; everything else separates tokens. For ASCII text this is exactly
rouge_score's default tokeniser without stemming, which the golden file also records.

Writes Tests/Golden/Evaluator/metrics.json.
Run from the repository root:  /work/venv/bin/python scripts/golden/metrics_golden.py
"""
import importlib.metadata
import json
import os
import sys
import unicodedata

from rouge_score import rouge_scorer
from sacrebleu.metrics import CHRF

sys.path.insert(0, os.path.dirname(__file__))
from evaluator_pairs import main_pairs, multi_reference_pairs, resolve  # noqa: E402

assert importlib.metadata.version("sacrebleu") == "2.6.0"
assert importlib.metadata.version("rouge-score") == "0.1.2"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Golden", "Evaluator", "metrics.json")

CJK_RANGES = [(0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF),
              (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0x2F800, 0x2FA1F)]


def is_cjk(c):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


class MixedScriptTokenizer:
    def tokenize(self, text):
        tokens, word = [], []
        for c in text:
            if is_cjk(c):
                if word:
                    tokens.append("".join(word).lower())
                    word = []
                tokens.append(c)
            elif unicodedata.category(c)[0] in "LN":
                word.append(c)
            elif word:
                tokens.append("".join(word).lower())
                word = []
        if word:
            tokens.append("".join(word).lower())
        return tokens


def main():
    chrf = CHRF()
    mixed = rouge_scorer.RougeScorer(["rougeL"], tokenizer=MixedScriptTokenizer())
    default = rouge_scorer.RougeScorer(["rougeL"])
    single = []
    for p in main_pairs():
        cand, ref = resolve(p["candidate"]), resolve(p["reference"])
        s = mixed.score(ref, cand)["rougeL"]
        entry = {"id": p["id"], "chrF": chrf.sentence_score(cand, [ref]).score,
                 "rougeL": {"P": s.precision, "R": s.recall, "F": s.fmeasure},
                 "tokens": len(MixedScriptTokenizer().tokenize(cand))}
        if cand.isascii() and ref.isascii():
            d = default.score(ref, cand)["rougeL"]
            entry["rougeL_default_tokenizer"] = {"P": d.precision, "R": d.recall, "F": d.fmeasure}
        single.append(entry)
    multi = []
    for p in multi_reference_pairs():
        cand = resolve(p["candidate"])
        refs = [resolve(r) for r in p["references"]]
        s = mixed.score_multi(refs, cand)["rougeL"]
        multi.append({"id": p["id"], "chrF": chrf.sentence_score(cand, refs).score,
                      "rougeL": {"P": s.precision, "R": s.recall, "F": s.fmeasure}})
    corpus = chrf.corpus_score([resolve(p["candidate"]) for p in main_pairs()],
                               [[resolve(p["reference"]) for p in main_pairs()]]).score
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/golden/metrics_golden.py",
                   "versions": {"sacrebleu": "2.6.0", "rouge-score": "0.1.2"},
                   "pairs_from": "bertscore.json (same ids, same order)",
                   "single": single, "multi": multi, "corpus_chrF": corpus}, f, indent=1)


if __name__ == "__main__":
    main()
