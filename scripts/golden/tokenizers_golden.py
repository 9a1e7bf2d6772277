#!/usr/bin/env python3
"""Reference token ids for the tokenizer parity tests: Tests/Golden/Tokenizers/*.json.

Pinned reference stack (the /work/venv virtualenv): Python 3.11, tokenizers 0.23.3,
transformers 5.24.0, gguf 0.19.0.

Inputs: Tests/Golden/Tokenizers/corpus.json (from tokenizers_corpus.py), ../shared/data, and the
assets of scripts/fetch-assets.sh ($MEDTUNE_ASSETS, else .cache/assets).

References, one golden file each:
  * qwen2.5-gguf.json: Qwen2.5-Coder-0.5B-Instruct's GGUF metadata, built into a `tokenizers`
    BPE object by hand (see `gguf_reference`): the vocabulary and merges of the file, the Qwen2
    Split regex + ByteLevel pre-tokenizer that `tokenizer.ggml.pre = qwen2` names in llama.cpp and
    in transformers' GGUF loader, control tokens (type 3) as special added tokens and
    user-defined ones (type 4) as plain added tokens, and no normalizer: a GGUF carries none and
    llama.cpp does not normalize. Cross-checked against transformers'
    `AutoTokenizer.from_pretrained(dir, gguf_file=...)`, which must agree on every entry.
  * qwen2.5-tokenizer-json.json: the same vocabulary in the layout of the official Qwen2
    tokenizer.json, which adds an NFC normalizer. Only the entries whose ids differ from the GGUF
    golden are stored (NFC changes nothing in the others, and the script checks that).
  * deepseek-r1-qwen-gguf.json: DeepSeek-R1-Distill-Qwen-7B's GGUF header, built the same way.
    `deepseek-r1-qwen` selects the Qwen2 regex in llama.cpp (LLAMA_VOCAB_PRE_TYPE_QWEN2) and in
    transformers. transformers' own GGUF loader is not the reference here: it drops control tokens
    spelled outside the byte alphabet (`<｜Assistant｜>`, `<｜User｜>` ...), which llama.cpp matches
    whole; the script reports how many entries that changes.
  * minilm.json: all-MiniLM-L6-v2's tokenizer.json through `tokenizers` (truncation and padding
    off), cross-checked against transformers' BertTokenizer over its vocab.txt.
  * bert-base-chinese.json: transformers' BertTokenizer over ../shared/data/bert-base-chinese-vocab.txt
    (split on "\\n" only) with do_lower_case=True, tokenize_chinese_chars=True.

Each golden maps corpus keys to ids. BPE ids are for add_special_tokens=False; WordPiece ids for
add_special_tokens=True ([CLS] ... [SEP]). Sequences of up to 96 ids are stored whole; longer ones
as "count:fnv1a64" (FNV-1a 64 over the ids as little-endian uint32), which keeps the files small
while still pinning every id. `plainText` holds the ids with special-token matching off
(`encode_special_tokens = True`) for entries that contain a special-token string.

Usage: python3 scripts/golden/tokenizers_golden.py
"""

import json
import os
import unicodedata
from pathlib import Path

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "Tests" / "Golden" / "Tokenizers"
SHARED = REPO.parent / "shared" / "data"
ASSETS = Path(os.environ.get("MEDTUNE_ASSETS") or REPO / ".cache" / "assets")
RECORD_FILES = {"zh": "medical_o1_zh_sample.jsonl", "en": "medical_o1_en_sample.jsonl"}

QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
PRE_TOKENIZER_SPLITS = {"qwen2": QWEN2_SPLIT, "deepseek-r1-qwen": QWEN2_SPLIT}
WHOLE_LIMIT = 96
TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED = 3, 4


def load_corpus():
    records = {}
    for language, name in RECORD_FILES.items():
        lines = (SHARED / name).read_text(encoding="utf-8").split("\n")
        records[language] = [json.loads(line) for line in lines if line]
    entries = json.loads((GOLDEN / "corpus.json").read_text(encoding="utf-8"))["entries"]
    corpus = []
    for entry in entries:
        if "text" in entry:
            corpus.append((entry["key"], entry["text"]))
        else:
            language, line, field = entry["key"].split("/")
            corpus.append((entry["key"], records[language][int(line)][field]))
    return corpus


def compact(ids):
    if len(ids) <= WHOLE_LIMIT:
        return list(ids)
    value = 0xCBF29CE484222325
    for token in ids:
        for byte in int(token).to_bytes(4, "little"):
            value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{len(ids)}:{value:016x}"


class MetadataReader(gguf.GGUFReader):
    """gguf's reader, minus the tensor views: the DeepSeek asset is a truncated file whose
    header is complete but whose tensor data is not."""

    def _build_tensors(self, start_offs, fields):
        self.tensors = []


def gguf_metadata(path):
    reader = MetadataReader(path)

    def strings(name):
        field = reader.fields[name]
        return [bytes(field.parts[index]).decode("utf-8") for index in field.data]

    def scalar(name):
        field = reader.fields.get(name)
        return None if field is None else field.parts[field.data[0]].tolist()[0]

    def text(name):
        field = reader.fields[name]
        return bytes(field.parts[field.data[0]]).decode("utf-8")

    token_type = reader.fields["tokenizer.ggml.token_type"]
    return {
        "model": text("tokenizer.ggml.model"),
        "pre": text("tokenizer.ggml.pre"),
        "tokens": strings("tokenizer.ggml.tokens"),
        "merges": strings("tokenizer.ggml.merges"),
        "types": [int(token_type.parts[index][0]) for index in token_type.data],
        "bos": scalar("tokenizer.ggml.bos_token_id"),
        "add_bos": bool(scalar("tokenizer.ggml.add_bos_token")),
    }


def gguf_reference(meta, nfc):
    """A `tokenizers` BPE built from GGUF metadata the way llama.cpp reads it."""
    assert meta["model"] == "gpt2", meta["model"]
    vocab = {token: index for index, token in enumerate(meta["tokens"])}
    assert len(vocab) == len(meta["tokens"]), "duplicate tokens"
    merges = [tuple(merge.split(" ")) for merge in meta["merges"]]
    assert all(len(pair) == 2 for pair in merges)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    if nfc:
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRE_TOKENIZER_SPLITS[meta["pre"]]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    pairs = list(zip(meta["tokens"], meta["types"]))
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in pairs if k == TOKEN_TYPE_CONTROL])
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t, k in pairs if k == TOKEN_TYPE_USER_DEFINED])
    assert tokenizer.get_vocab_size() == len(meta["tokens"])
    if meta["add_bos"]:
        bos = meta["tokens"][meta["bos"]]
        tokenizer.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, meta["bos"])])
    return tokenizer


def special_strings(tokenizer):
    return [token.content for token in tokenizer.get_added_tokens_decoder().values() if token.special]


def encode_all(tokenizer, corpus, add_special_tokens):
    return {key: tokenizer.encode(text, add_special_tokens=add_special_tokens).ids for key, text in corpus}


def plain_text_ids(tokenizer, corpus, add_special_tokens):
    specials = special_strings(tokenizer)
    tokenizer.encode_special_tokens = True
    try:
        return {
            key: compact(tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)
            for key, text in corpus
            if any(special in text for special in specials)
        }
    finally:
        tokenizer.encode_special_tokens = False


def write(name, golden):
    path = GOLDEN / name
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(golden, handle, ensure_ascii=True, separators=(",", ":"))
        handle.write("\n")
    print(f"{path}: {path.stat().st_size} bytes")


def bpe_goldens(corpus):
    qwen_path = ASSETS / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    deepseek_path = ASSETS / "deepseek-r1-distill-qwen-7b-part0000.gguf"

    for path, name in ((qwen_path, "qwen2.5-gguf.json"), (deepseek_path, "deepseek-r1-qwen-gguf.json")):
        meta = gguf_metadata(path)
        tokenizer = gguf_reference(meta, nfc=False)
        ids = encode_all(tokenizer, corpus, add_special_tokens=False)
        texts = dict(corpus)
        broken = [key for key in ids if tokenizer.decode(ids[key], skip_special_tokens=False) != texts[key]]
        assert not broken, f"{name}: reference does not round-trip {broken[:5]}"
        golden = {
            "reference": f"tokenizers BPE from the GGUF metadata of {path.name}, pre-tokenizer {meta['pre']}, no normalizer",
            "ids": {key: compact(value) for key, value in ids.items()},
            "plainText": plain_text_ids(tokenizer, corpus, add_special_tokens=False),
        }
        write(name, golden)
        if path == qwen_path:
            compare_with_transformers(path, ids, corpus)

        if path == qwen_path:
            nfc = gguf_reference(meta, nfc=True)
            nfc_ids = encode_all(nfc, corpus, add_special_tokens=False)
            changed = {key: compact(nfc_ids[key]) for key, _ in corpus if nfc_ids[key] != ids[key]}
            normalized = {key for key, text in corpus if unicodedata.normalize("NFC", text) != text}
            assert set(changed) <= normalized, "NFC changed ids of NFC-invariant text"
            write("qwen2.5-tokenizer-json.json", {
                "reference": "the GGUF vocabulary in the official Qwen2 tokenizer.json layout (NFC normalizer); only entries differing from qwen2.5-gguf.json",
                "ids": changed,
                "plainText": {key: value for key, value in plain_text_ids(nfc, corpus, False).items() if key in normalized},
            })


def compare_with_transformers(path, ids, corpus):
    """transformers' own GGUF loading, as a second opinion on the hand-built reference."""
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    differing = [key for key, text in corpus if loaded.encode(text, add_special_tokens=False) != ids[key]]
    print(f"  transformers GGUF loader differs on {len(differing)} of {len(corpus)} entries {differing[:8]}")


def wordpiece_goldens(corpus):
    from transformers import BertTokenizer
    from transformers.models.bert.tokenization_bert import load_vocab

    minilm_dir = ASSETS / "all-MiniLM-L6-v2"
    minilm = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    minilm.no_truncation()
    minilm.no_padding()
    minilm_vocab = BertTokenizer(vocab=load_vocab(str(minilm_dir / "vocab.txt")), do_lower_case=True)

    chinese = BertTokenizer(
        vocab=load_vocab(str(SHARED / "bert-base-chinese-vocab.txt")), do_lower_case=True, tokenize_chinese_chars=True
    )
    assert chinese.backend_tokenizer.get_vocab_size() == 21128

    for name, tokenizer, reference in (
        ("minilm.json", minilm, "tokenizers over all-MiniLM-L6-v2/tokenizer.json, truncation and padding off"),
        ("bert-base-chinese.json", chinese.backend_tokenizer,
         "transformers BertTokenizer over bert-base-chinese-vocab.txt, do_lower_case=True, tokenize_chinese_chars=True"),
    ):
        ids = encode_all(tokenizer, corpus, add_special_tokens=True)
        if name == "minilm.json":
            differing = [key for key, text in corpus if minilm_vocab.encode(text) != ids[key]]
            assert not differing, f"MiniLM vocab.txt and tokenizer.json disagree on {differing[:5]}"
        hand = [(key, text) for key, text in corpus if key.startswith("hand/")]
        tokenizer.enable_truncation(16)
        truncated = {key: tokenizer.encode(text).ids for key, text in hand}
        tokenizer.no_truncation()
        write(name, {
            "reference": reference,
            "ids": {key: compact(value) for key, value in ids.items()},
            "plainText": plain_text_ids(tokenizer, corpus, add_special_tokens=True),
            "truncated16": truncated,
            "decoded": {key: tokenizer.decode(ids[key], skip_special_tokens=True) for key, _ in hand},
        })


def main():
    corpus = load_corpus()
    print(f"corpus: {len(corpus)} entries")
    wordpiece_goldens(corpus)
    bpe_goldens(corpus)


if __name__ == "__main__":
    main()
