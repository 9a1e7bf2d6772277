#!/usr/bin/env python3
"""Golden LoRA GGUF for `medtune export-lora`: a small PEFT adapter for the tiny Qwen2 model and
the file llama.cpp's own converter makes of it.

Reference: convert_lora_to_gguf.py from the llama.cpp sources vendored in llama-cpp-python 0.3.36
(scripts/fetch-peers.sh llama.cpp unpacks them into .cache/peers/llama.cpp-src), run with
`--outtype f32` (its default) in the peers' virtualenv (torch 2.13.0+cpu, transformers 5.24.0,
safetensors, numpy 2.4.6; scripts/fetch-peers.sh python). The base is
Tests/Golden/ModelFiles/tiny-qwen2 (only its config.json is read).
Run:
    LLAMA_CPP_SRC=.cache/peers/llama.cpp-src .cache/peers/python/bin/python scripts/golden/lora_gguf.py
Writes Tests/Golden/Exporter/tiny-lora/ (adapter_config.json, adapter_model.safetensors: rank 4,
alpha 8, on q_proj, v_proj and down_proj of both layers, random A and B) and
Tests/Golden/Exporter/tiny-lora.gguf.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
LLAMA_CPP = Path(os.environ.get("LLAMA_CPP_SRC", ROOT / ".cache/peers/llama.cpp-src"))
BASE = ROOT / "Tests/Golden/ModelFiles/tiny-qwen2"
OUT = ROOT / "Tests/Golden/Exporter"


def main():
    config = json.loads((BASE / "config.json").read_text())
    hidden, intermediate = config["hidden_size"], config["intermediate_size"]
    kv = config["num_key_value_heads"] * hidden // config["num_attention_heads"]
    shapes = {"self_attn.q_proj": (hidden, hidden), "self_attn.v_proj": (hidden, kv), "mlp.down_proj": (intermediate, hidden)}
    rank, alpha = 4, 8
    rng = np.random.default_rng(20261207)
    tensors = {}
    for layer in range(config["num_hidden_layers"]):
        for module, (in_features, out_features) in shapes.items():
            prefix = f"base_model.model.model.layers.{layer}.{module}"
            tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((rank, in_features)).astype(np.float32)
            tensors[f"{prefix}.lora_B.weight"] = rng.standard_normal((out_features, rank)).astype(np.float32)
    adapter = OUT / "tiny-lora"
    adapter.mkdir(parents=True, exist_ok=True)
    save_file(tensors, adapter / "adapter_model.safetensors", metadata={"format": "pt"})
    (adapter / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha, "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj", "down_proj"], "use_rslora": False, "fan_in_fan_out": False,
        "bias": "none", "base_model_name_or_path": None, "modules_to_save": None,
    }, indent=2) + "\n")
    converter = LLAMA_CPP / "convert_lora_to_gguf.py"
    if not converter.exists():
        sys.exit(f"{converter} not found: set LLAMA_CPP_SRC to llama.cpp's source folder (scripts/fetch-peers.sh llama.cpp)")
    output = OUT / "tiny-lora.gguf"
    subprocess.run([sys.executable, str(converter), "--base", str(BASE), "--outtype", "f32", "--outfile", str(output), str(adapter)],
                   check=True)
    print(f"{output.relative_to(ROOT)}: {output.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
