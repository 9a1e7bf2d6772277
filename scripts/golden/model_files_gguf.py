#!/usr/bin/env python3
"""Golden values for medtune's GGUF reader and dequantisation.

Reference: gguf 0.19.0 (GGUFReader, gguf.quants.quantize/dequantize), numpy 2.4.6.
Run with the reference virtualenv:
    MEDTUNE_ASSETS=/path/to/assets /work/venv/bin/python scripts/golden/model_files_gguf.py
Writes Tests/Golden/ModelFiles/gguf_qwen.json, gguf_r1_header.json, gguf_blocks.json.
"""
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get("MEDTUNE_ASSETS", ROOT / ".cache/assets"))
OUT = ROOT / "Tests/Golden/ModelFiles"
QWEN = ASSETS / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
R1 = ASSETS / "deepseek-r1-distill-qwen-7b-part0000.gguf"

TYPE_NAMES = {V.UINT8: "uint8", V.INT8: "int8", V.UINT16: "uint16", V.INT16: "int16", V.UINT32: "uint32",
              V.INT32: "int32", V.FLOAT32: "float32", V.BOOL: "bool", V.STRING: "string", V.UINT64: "uint64",
              V.INT64: "int64", V.FLOAT64: "float64"}


def floats(a):
    """float32 values as JSON numbers that read back to the same float32."""
    return [float(np.float32(x)) for x in np.asarray(a, dtype=np.float32).ravel()]


def rounded(a):
    """float64 results to 8 significant digits (tests compare them with a tolerance)."""
    return [float(f"{v:.8g}") for v in np.asarray(a).ravel()]


def field_value(field, i):
    part = field.parts[field.data[i]]
    if field.types[-1] == V.STRING:
        return bytes(part).decode("utf-8")
    v = part.tolist()[0]
    return v


def describe_metadata(reader):
    keys, scalars, arrays = [], {}, {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        keys.append(key)
        if field.types[0] == V.ARRAY:
            values = [field_value(field, i) for i in range(len(field.data))]
            arrays[key] = {"type": TYPE_NAMES[field.types[-1]], "count": len(values),
                           "head": values[:6], "tail": values[-3:]}
        else:
            scalars[key] = {"type": TYPE_NAMES[field.types[0]], "value": field_value(field, 0)}
    return keys, scalars, arrays


class HeaderOnlyReader(gguf.GGUFReader):
    """GGUFReader that records tensor infos without mapping their data (for partial files)."""

    def _build_tensors(self, start_offs, fields):
        self.infos = []
        for field in fields:
            _, name, _, dims, dtype, offset = field.parts
            self.infos.append({"name": bytes(name).decode(), "type": Q(dtype[0]).name,
                               "dimensions": [int(d) for d in dims], "offset": int(offset[0])})


def pattern(rows, cols, a, b):
    """Exactly representable test inputs, reproduced in the Swift tests."""
    i = np.arange(rows).reshape(-1, 1)
    j = np.arange(cols).reshape(1, -1)
    return ((((j * a + i * b) % 17) - 8) / 8.0).astype(np.float32)


def qwen():
    reader = gguf.GGUFReader(QWEN)
    keys, scalars, arrays = describe_metadata(reader)
    tensors = {t.name: t for t in reader.tensors}
    infos = [{"name": t.name, "type": t.tensor_type.name, "dimensions": [int(d) for d in t.shape],
              "offset": int(t.data_offset - reader.data_offset)} for t in reader.tensors]

    def dequantized(t):
        return gguf.quants.dequantize(t.data, t.tensor_type).reshape(int(t.shape[1]) if len(t.shape) > 1 else 1, -1)

    # First rows of one tensor of every type the file holds.
    first_of_type = {}
    for t in reader.tensors:
        first_of_type.setdefault(t.tensor_type.name, t)
    rows = []
    for name, t in sorted(first_of_type.items()):
        w = dequantized(t)
        rows.append({"tensor": t.name, "type": name, "rows": 2 if w.shape[0] > 1 else 1,
                     "values": floats(w[:2])})

    # Products through the weight abstraction: y = x·Wᵀ and dx = dy·W for n = 3, in float64.
    products = []
    for name in ["blk.0.attn_v.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight",
                 next(t.name for t in reader.tensors if t.tensor_type == Q.Q4_K)]:
        t = tensors[name]
        w = dequantized(t).astype(np.float64)
        out_features, in_features = w.shape
        x = pattern(3, in_features, 7, 13).astype(np.float64)
        dy = pattern(3, out_features, 5, 3).astype(np.float64)
        products.append({"tensor": name, "type": t.tensor_type.name, "shape": [out_features, in_features],
                         "y": rounded(x @ w.T), "dx": rounded(dy @ w)})

    embd = tensors["token_embd.weight"]
    ids = [0, 1, 151643, 151645, 151935]
    embedding = floats(dequantized(embd)[ids])

    return {
        "file": QWEN.name, "version": 3, "tensor_count": len(reader.tensors), "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset), "metadata_keys": keys, "scalars": scalars, "arrays": arrays,
        "tensor_types": dict(Counter(t.tensor_type.name for t in reader.tensors)),
        "tensors": infos, "rows": rows, "products": products,
        "embedding": {"tensor": "token_embd.weight", "ids": ids, "values": embedding},
    }


def r1_header():
    reader = HeaderOnlyReader(R1)
    keys, scalars, arrays = describe_metadata(reader)
    return {"file": R1.name, "file_bytes": R1.stat().st_size, "tensor_count": len(reader.infos),
            "data_offset": int(reader.data_offset), "metadata_keys": keys, "scalars": scalars, "arrays": arrays,
            "tensors": reader.infos[:8],
            "tensor_types": dict(Counter(i["type"] for i in reader.infos))}


def blocks():
    """Blocks of every supported type, made by the reference quantizer where gguf-py has one and
    from random bytes with sane scales where it has not (Q4_K, Q5_K, Q6_K have no Python quantizer)."""
    rng = np.random.default_rng(20240601)
    cases = []
    data = rng.standard_normal((2, 256)).astype(np.float32)
    data[0, :8] = [0.0, -0.0, 65504.0, -65504.0, 6e-8, 1e-5, 3.0e-5, 1e4]
    for qtype in [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q5_0, Q.Q8_0]:
        raw = gguf.quants.quantize(data, qtype)
        cases.append({"type": qtype.name, "source": "quantize", "shape": [2, 256],
                      "bytes": raw.view(np.uint8).tobytes().hex(),
                      "values": floats(gguf.quants.dequantize(raw, qtype))})
    size_of = gguf.constants.GGML_QUANT_SIZES
    scale_fields = {Q.Q4_0: [0], Q.Q5_0: [0], Q.Q8_0: [0], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}
    for qtype, offsets in scale_fields.items():
        block_size, type_size = size_of[qtype]
        count = 2 * 512 // block_size
        raw = rng.integers(0, 256, size=(count, type_size), dtype=np.uint8)
        for k, offset in enumerate(offsets):
            scale = rng.uniform(0.001, 0.05, size=count).astype(np.float16)
            raw[:, offset:offset + 2] = scale.view(np.uint8).reshape(count, 2)
        raw = raw.reshape(2, -1)
        cases.append({"type": qtype.name, "source": "random bytes", "shape": [2, 512],
                      "bytes": raw.tobytes().hex(),
                      "values": floats(gguf.quants.dequantize(raw, qtype))})
    return {"cases": cases}


def write(name, value):
    path = OUT / name
    path.write_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("gguf_qwen.json", qwen())
    write("gguf_r1_header.json", r1_header())
    write("gguf_blocks.json", blocks())
