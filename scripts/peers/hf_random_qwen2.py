# A random Qwen2 as a Hugging Face folder (bfloat16 safetensors) with a byte-level tokenizer in the
# Qwen2 layout (byte b is token b, <|endoftext|> is 256 and ends every record), for checks that need
# a base of real shapes where no hub is reachable: the model's vocabulary keeps its shape's size,
# the tokenizer uses its first 257 ids.
# Usage: hf_random_qwen2.py OUT_DIR --shape toy|0.5b|7b [--seed N]
import argparse, json, os
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM
from qwen2_random import SHAPES

parser = argparse.ArgumentParser()
parser.add_argument("out_dir")
parser.add_argument("--shape", choices=["toy", "0.5b", "7b"], required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

EOS = 256
torch.manual_seed(args.seed)
config = Qwen2Config(**SHAPES[args.shape], max_position_embeddings=32768, rms_norm_eps=1e-6,
                     use_sliding_window=False, bos_token_id=None, eos_token_id=EOS, pad_token_id=EOS)
with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
model.save_pretrained(args.out_dir)

def byte_to_unicode():
    """GPT-2's printable stand-in character for each byte, as byte-level BPE vocabularies spell them."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars

byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
split = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
vocab = {c: b for b, c in byte_to_unicode().items()}
vocab["<|endoftext|>"] = EOS
tokenizer = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": EOS, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False}, byte_level]},
    "post_processor": byte_level, "decoder": byte_level,
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": []},
}
with open(os.path.join(args.out_dir, "tokenizer.json"), "w") as f:
    json.dump(tokenizer, f, ensure_ascii=False)
with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w") as f:
    json.dump({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "tokenizer_class": "Qwen2Tokenizer"}, f)
print(f"wrote {args.out_dir}: random Qwen2 ({args.shape} shapes, bf16), byte-level tokenizer")
