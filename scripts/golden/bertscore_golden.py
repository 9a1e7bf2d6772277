"""Golden BERTScore values for medtune's Evaluator tests.

Pinned reference stack (the /work/venv virtualenv):
    bert-score 0.3.13, transformers 5.24.0, torch 2.13 (CPU), safetensors, numpy.

Writes, under Tests/Golden/Evaluator/:
  tiny-bert-chinese/   a small random BERT (2 layers, hidden 32, 4 heads, seeded torch init,
                       weights stored as F16 and computed in F32) in Hugging Face layout, without
                       vocab.txt: it uses the real bert-base-chinese vocabulary from
                       ../shared/data/bert-base-chinese-vocab.txt, which the tests link in.
  bertscore.json       P/R/F1 per pair and the bert_score hash for each configuration, on the
                       real all-MiniLM-L6-v2 ($MEDTUNE_ASSETS/all-MiniLM-L6-v2) and on the tiny
                       Chinese model; pairs are stored as pointers into ../shared/data.
  bertscore_tokens.json  token ids bert_score feeds each model, per pair of bertscore.json, so a
                       tokenizer mismatch can be told apart from an encoder mismatch.
  bert-base-chinese.tsv  bert_score's own rescale baseline for bert-base-chinese (zh), an input.
  minilm_hidden.json   all-MiniLM-L6-v2 hidden states (layers 0 and 6) of two short sentences.

Run from the repository root:  /work/venv/bin/python scripts/golden/bertscore_golden.py
"""
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile

import torch
import bert_score
import transformers
from bert_score.utils import sent_encode
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

sys.path.insert(0, os.path.dirname(__file__))
from evaluator_pairs import SHARED, main_pairs, multi_reference_pairs, resolve  # noqa: E402

# The 0.3.13 wheel still says __version__ = "0.3.12", and that is what its hash strings carry.
assert importlib.metadata.version("bert-score") == "0.3.13"
assert bert_score.__version__ == "0.3.12", bert_score.__version__
assert transformers.__version__ == "5.24.0", transformers.__version__

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Golden", "Evaluator")
ASSETS = os.environ.get("MEDTUNE_ASSETS", os.path.join(ROOT, ".cache", "assets"))
MINILM = os.path.join(ASSETS, "all-MiniLM-L6-v2")
TINY = os.path.join(OUT, "tiny-bert-chinese")
BASELINE = os.path.join(OUT, "bert-base-chinese.tsv")

torch.set_num_threads(1)  # deterministic reductions

# bert_score encodes an empty (or whitespace-only) sentence as
# tokenizer.build_inputs_with_special_tokens([]), i.e. [CLS] [SEP]; transformers 5 dropped that
# method from BertTokenizer, so bert_score 0.3.13 crashes on empty input there. Restore the
# transformers 4 behaviour it was written against.
transformers.BertTokenizer.build_inputs_with_special_tokens = (
    lambda self, ids, pair=None: [self.cls_token_id] + list(ids) + [self.sep_token_id])


def make_tiny_chinese_bert():
    """A seeded random BERT over the real bert-base-chinese vocabulary. Every parameter (biases and
    LayerNorm gains included) is random and rounded to F16, so that the F16 file holds exactly the
    F32 values both implementations compute with."""
    os.makedirs(TINY, exist_ok=True)
    config = BertConfig(vocab_size=21128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=512, type_vocab_size=2,
                        hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    torch.manual_seed(20240607)
    model = BertModel(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
            p.copy_(p.half().float())
    tensors = {f"bert.{k}": v.half().contiguous() for k, v in model.state_dict().items()
               if not k.endswith("position_ids")}
    save_file(tensors, os.path.join(TINY, "model.safetensors"), metadata={"format": "pt"})
    cfg = config.to_dict()
    cfg["architectures"] = ["BertModel"]
    cfg["dtype"] = "float32"
    with open(os.path.join(TINY, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    # The hub's bert-base-chinese tokenizer_config.json.
    with open(os.path.join(TINY, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "model_max_length": 512}, f)


def assembled_tiny_folder():
    """The tiny model folder plus the shared vocabulary, as the tests assemble it."""
    folder = tempfile.mkdtemp(prefix="tiny-bert-chinese-")
    for name in os.listdir(TINY):
        shutil.copy(os.path.join(TINY, name), folder)
    shutil.copy(os.path.join(SHARED, "bert-base-chinese-vocab.txt"), os.path.join(folder, "vocab.txt"))
    return folder


def check_weights_loaded(path):
    model, info = AutoModel.from_pretrained(path, output_loading_info=True)
    missing = [k for k in info["missing_keys"] if "pooler" not in k]
    assert not missing, missing
    assert next(model.parameters()).dtype == torch.float32


def run(path, name, cands, refs, num_layers, idf, baseline=None):
    kwargs = {}
    if baseline:
        kwargs = {"rescale_with_baseline": True, "baseline_path": baseline, "lang": "zh"}
    (P, R, F), hash_code = bert_score.score(cands, refs, model_type=path, num_layers=num_layers, idf=idf,
                                            device="cpu", nthreads=0, return_hash=True, **kwargs)
    return {"model": name, "num_layers": num_layers, "idf": idf, "baseline": os.path.basename(baseline) if baseline else None,
            "hash": hash_code.replace(path, name),
            "P": [float(x) for x in P], "R": [float(x) for x in R], "F": [float(x) for x in F]}


def main():
    make_tiny_chinese_bert()
    shutil.copy(os.path.join(os.path.dirname(bert_score.__file__), "rescale_baseline", "zh", "bert-base-chinese.tsv"),
                BASELINE)
    tiny = assembled_tiny_folder()
    check_weights_loaded(tiny)
    check_weights_loaded(MINILM)

    pairs = main_pairs()
    multi = multi_reference_pairs()
    cands = [resolve(p["candidate"]) for p in pairs]
    refs = [resolve(p["reference"]) for p in pairs]
    mcands = [resolve(p["candidate"]) for p in multi]
    mrefs = [[resolve(r) for r in p["references"]] for p in multi]

    runs = []
    for path, name, full, fewer in ((MINILM, "all-MiniLM-L6-v2", 6, 3), (tiny, "tiny-bert-chinese", 2, 1)):
        runs.append({"set": "main", **run(path, name, cands, refs, full, False)})
        runs.append({"set": "main", **run(path, name, cands, refs, full, True)})
        runs.append({"set": "main", **run(path, name, cands, refs, fewer, False)})
        runs.append({"set": "main", **run(path, name, cands, refs, full, False, BASELINE)})
        runs.append({"set": "multi", **run(path, name, mcands, mrefs, full, False)})
        runs.append({"set": "multi", **run(path, name, mcands, mrefs, full, True)})

    with open(os.path.join(OUT, "bertscore.json"), "w") as f:
        json.dump({"generator": "scripts/golden/bertscore_golden.py",
                   "versions": {"bert_score": importlib.metadata.version("bert-score"), "transformers": transformers.__version__,
                                "torch": torch.__version__},
                   "pairs": pairs, "multi_reference_pairs": multi, "runs": runs}, f, ensure_ascii=False, indent=1)

    tokens = {}
    for path, name in ((MINILM, "all-MiniLM-L6-v2"), (tiny, "tiny-bert-chinese")):
        tok = AutoTokenizer.from_pretrained(path, use_fast=False)
        tokens[name] = {"pairs": [[sent_encode(tok, c), sent_encode(tok, r)] for c, r in zip(cands, refs)],
                        "multi_reference_pairs": [[sent_encode(tok, c), [sent_encode(tok, r) for r in group]]
                                                  for c, group in zip(mcands, mrefs)]}
    with open(os.path.join(OUT, "bertscore_tokens.json"), "w") as f:
        json.dump(tokens, f, separators=(",", ":"))

    tok = AutoTokenizer.from_pretrained(MINILM, use_fast=False)
    model = AutoModel.from_pretrained(MINILM).eval()
    hidden = []
    for text in ("The patient should take aspirin every day.", "患者应每天服用阿司匹林。"):
        ids = sent_encode(tok, text)
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True)
        hidden.append({"text": text, "ids": ids,
                       "layers": {str(l): [[float("%.7g" % v) for v in row] for row in out.hidden_states[l][0].tolist()]
                                  for l in (0, 6)}})
    with open(os.path.join(OUT, "minilm_hidden.json"), "w") as f:
        json.dump(hidden, f, ensure_ascii=False)
    shutil.rmtree(tiny)


if __name__ == "__main__":
    main()
