#!/usr/bin/env python3
"""Golden values for medtune's safetensors reader/writer and its HF-folder / GGUF loader.

Reference: safetensors 0.8.0, torch 2.13.0 (cpu), transformers 5.24.0, gguf 0.19.0, numpy 2.4.6.
Run with the reference virtualenv:
    MEDTUNE_ASSETS=/path/to/assets /work/venv/bin/python scripts/golden/model_files_safetensors.py
Writes Tests/Golden/ModelFiles/safetensors.json and the tiny Qwen2 model in two formats:
Tests/Golden/ModelFiles/tiny-qwen2/ (HF folder, two shards) and tiny-qwen2.gguf.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_torch, load_file
import gguf
from gguf import GGMLQuantizationType as Q

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get("MEDTUNE_ASSETS", ROOT / ".cache/assets"))
OUT = ROOT / "Tests/Golden/ModelFiles"


def f32(values):
    return [float(np.float32(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


def bits(values):
    """float32 bit patterns: exact, and infinities survive JSON."""
    return [int(b) for b in np.asarray(values, dtype=np.float32).ravel().view(np.uint32)]


def writer_case():
    """A file written by the reference package: medtune must write the same bytes from the same
    float32 values, and read it back to the same decoded values."""
    rng = np.random.default_rng(7)
    edge = np.array([1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-8, 1 + 3 * 2**-8, 70000.0, -1e-8, 6e-8, 0.0,
                     -0.0, 65504.0, 3.3895e38, 1e-40], dtype=np.float32)
    specs = [("model.layers.0.mlp.up_proj.lora_A.weight", torch.float32, (4, 6)),
             ("b/half", torch.float16, (3, 4)),
             ("a.bf16", torch.bfloat16, (12,)),
             ("é\"quote\\\n", torch.float32, (2,)),
             ("edges.f16", torch.float16, (12,)),
             ("edges.bf16", torch.bfloat16, (12,)),
             ("empty", torch.float32, (0, 3))]
    tensors, cases = {}, []
    for name, dtype, shape in specs:
        values = edge if name.startswith("edges") else rng.standard_normal(shape).astype(np.float32)
        t = torch.from_numpy(values.reshape(shape).copy()).to(dtype)
        tensors[name] = t
        cases.append({"name": name, "dtype": str(dtype).split(".")[-1], "shape": list(shape),
                      "values": f32(values), "decoded_bits": bits(t.to(torch.float32).numpy())})
    data = save_torch(tensors, metadata={"format": "pt"})
    return {"metadata": {"format": "pt"}, "tensors": cases, "file_hex": data.hex()}


def minilm():
    path = ASSETS / "all-MiniLM-L6-v2/model.safetensors"
    tensors = load_file(path)
    names = ["embeddings.LayerNorm.weight", "encoder.layer.0.attention.self.query.weight", "pooler.dense.bias"]
    return {"tensor_count": len(tensors),
            "dtypes": {str(t.dtype).split(".")[-1]: sum(1 for u in tensors.values() if u.dtype == t.dtype)
                       for t in tensors.values()},
            "samples": [{"name": n, "shape": list(tensors[n].shape), "first": f32(tensors[n].reshape(-1)[:6])}
                        for n in names if n in tensors]}


def tiny_qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    config = Qwen2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, vocab_size=96, max_position_embeddings=256, rope_theta=1e6,
                         rms_norm_eps=1e-6, tie_word_embeddings=False)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    folder = OUT / "tiny-qwen2"
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, max_shard_size="100KB")
    for extra in folder.iterdir():
        if extra.name == "generation_config.json":
            extra.unlink()

    # The same weights as GGUF, in a mix of stored types, named as llama.cpp's converter names them.
    state = {k: v.to(torch.float32).numpy() for k, v in model.state_dict().items()}
    writer = gguf.GGUFWriter(OUT / "tiny-qwen2.gguf", "qwen2")
    writer.add_block_count(2)
    writer.add_context_length(256)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(1e6)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"t{i}" for i in range(96)])
    names = {"model.embed_tokens.weight": ("token_embd.weight", Q.F16),
             "model.norm.weight": ("output_norm.weight", Q.F32),
             "lm_head.weight": ("output.weight", Q.Q8_0)}
    layer = {"input_layernorm.weight": ("attn_norm.weight", Q.F32),
             "post_attention_layernorm.weight": ("ffn_norm.weight", Q.F32),
             "self_attn.q_proj.weight": ("attn_q.weight", Q.Q8_0), "self_attn.q_proj.bias": ("attn_q.bias", Q.F32),
             "self_attn.k_proj.weight": ("attn_k.weight", Q.Q4_0), "self_attn.k_proj.bias": ("attn_k.bias", Q.F32),
             "self_attn.v_proj.weight": ("attn_v.weight", Q.Q5_0), "self_attn.v_proj.bias": ("attn_v.bias", Q.F32),
             "self_attn.o_proj.weight": ("attn_output.weight", Q.BF16),
             "mlp.gate_proj.weight": ("ffn_gate.weight", Q.Q8_0), "mlp.up_proj.weight": ("ffn_up.weight", Q.F16),
             "mlp.down_proj.weight": ("ffn_down.weight", Q.Q8_0)}
    for i in range(2):
        for hf, (g, t) in layer.items():
            names[f"model.layers.{i}.{hf}"] = (f"blk.{i}.{g}", t)
    expected = {}
    for hf, (g, qtype) in names.items():
        values = state[hf]
        raw = gguf.quants.quantize(values, qtype)
        writer.add_tensor(g, raw, raw_shape=raw.shape, raw_dtype=qtype)
        expected[hf] = {"type": qtype.name, "gguf": g,
                        "sum": float(gguf.quants.dequantize(raw, qtype).astype(np.float64).sum()),
                        "first": f32(gguf.quants.dequantize(raw, qtype).reshape(-1)[:4])}
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    hf_expected = {k: {"sum": float(v.astype(np.float64).sum()), "first": f32(v.reshape(-1)[:4]),
                       "shape": list(v.shape)} for k, v in state.items()}
    return {"hf": hf_expected, "gguf": expected}


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"writer": writer_case(), "minilm": minilm(), "tiny_qwen2": tiny_qwen2()}
    path = OUT / "safetensors.json"
    path.write_text(json.dumps(result, separators=(",", ":"), ensure_ascii=False) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes", file=sys.stderr)
