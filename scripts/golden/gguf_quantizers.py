#!/usr/bin/env python3
"""Golden encodings for medtune's GGUF block encoders (RowCodec.quantize).

References:
  - Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K: llama.cpp's C reference quantizers `quantize_row_*_ref` in
    ggml/src/ggml-quants.c (what llama-quantize runs without an importance matrix), from the
    llama.cpp sources vendored in llama-cpp-python 0.3.36 (scripts/fetch-peers.sh llama.cpp unpacks
    them into .cache/peers/llama.cpp-src). They are compiled here into a small throwaway program
    with `cc -O2 -ffp-contract=off`: ggml-base, which holds these functions, is built for baseline
    x86-64 (no -march), where nothing can be fused into a multiply-add, and -ffp-contract=off keeps
    it so on any host. (Built with -march=native on an FMA machine, GCC fuses products in the K-quant
    searches and K-quant bytes change; Q4_0/Q5_0/Q8_0 do not.)
  - the same 32-element types are checked against gguf 0.19.0's `gguf.quants.quantize` (equal bytes,
    asserted below); gguf 0.19.0 has no K-quant quantizer (NotImplementedError, asserted below);
  - F16 and BF16: gguf.quants.quantize (numpy astype(float16); ggml's fp32_to_bf16).
Rows: real rows of the Qwen2.5-Coder-0.5B Q4_K_M GGUF (dequantized by gguf-py; and the same rows
plus a small update, as a merge produces), and synthetic rows with outliers, zeros, tiny and
huge magnitudes, one sign only, constants and exact ties.

Run (cc and numpy needed; gguf 0.19.0 in the interpreter):
    LLAMA_CPP_SRC=.cache/peers/llama.cpp-src MEDTUNE_ASSETS=.cache/assets \\
        .cache/peers/venv/bin/python scripts/golden/gguf_quantizers.py
Writes Tests/Golden/ModelFiles/gguf_quantizers.json: each row as the hex of its little-endian
float32 values, and per type the hex of each row's encoding.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get("MEDTUNE_ASSETS", ROOT / ".cache/assets"))
LLAMA_CPP = Path(os.environ.get("LLAMA_CPP_SRC", ROOT / ".cache/peers/llama.cpp-src"))
QWEN = ASSETS / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
OUT = ROOT / "Tests/Golden/ModelFiles/gguf_quantizers.json"

# Reads rows of float32 from stdin and writes each row's encoding to stdout.
HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void quantize_row_q4_0_ref(const float *, void *, int64_t);
void quantize_row_q5_0_ref(const float *, void *, int64_t);
void quantize_row_q8_0_ref(const float *, void *, int64_t);
void quantize_row_q4_K_ref(const float *, void *, int64_t);
void quantize_row_q5_K_ref(const float *, void *, int64_t);
void quantize_row_q6_K_ref(const float *, void *, int64_t);
/* Never reached by the functions called; ggml-quants.c only needs them to link. */
void ggml_abort(const char * file, int line, const char * fmt, ...) { abort(); }
size_t ggml_row_size(int type, int64_t n) { abort(); }
size_t ggml_type_size(int type) { abort(); }
const char * ggml_type_name(int type) { abort(); }
int main(int argc, char ** argv) {
    const char * t = argv[1];
    long n = atol(argv[2]);
    void (*f)(const float *, void *, int64_t) =
        !strcmp(t, "Q4_0") ? quantize_row_q4_0_ref : !strcmp(t, "Q5_0") ? quantize_row_q5_0_ref :
        !strcmp(t, "Q8_0") ? quantize_row_q8_0_ref : !strcmp(t, "Q4_K") ? quantize_row_q4_K_ref :
        !strcmp(t, "Q5_K") ? quantize_row_q5_K_ref :
        !strcmp(t, "Q6_K") ? quantize_row_q6_K_ref : NULL;
    if (!f) return 2;
    float * x = malloc(n * sizeof(float));
    unsigned char * y = malloc(n * 4);
    long bytes = atol(argv[3]);
    while (fread(x, sizeof(float), n, stdin) == (size_t)n) { f(x, y, n); fwrite(y, 1, bytes, stdout); }
    return 0;
}
"""


def build_harness(directory):
    ggml = LLAMA_CPP / "ggml"
    source = ggml / "src/ggml-quants.c"
    if not source.exists():
        sys.exit(f"{source} not found: set LLAMA_CPP_SRC to llama.cpp's source folder (scripts/fetch-peers.sh llama.cpp)")
    harness = Path(directory) / "harness.c"
    harness.write_text(HARNESS)
    binary = Path(directory) / "harness"
    includes = [f"-I{ggml / 'include'}", f"-I{ggml / 'src'}", f"-I{ggml / 'src/ggml-cpu'}"]
    subprocess.run(["cc", "-O2", "-ffp-contract=off", "-std=gnu11", *includes, str(source), str(harness),
                    "-o", str(binary), "-lm"], check=True)
    return binary


def reference(binary, qtype, row):
    block_size, type_size = gguf.constants.GGML_QUANT_SIZES[qtype]
    size = len(row) // block_size * type_size
    out = subprocess.run([str(binary), qtype.name, str(len(row)), str(size)], input=row.tobytes(),
                         capture_output=True, check=True).stdout
    assert len(out) == size, (qtype.name, len(out), size)
    return out


def rows():
    reader = gguf.GGUFReader(QWEN)
    tensors = {t.name: t for t in reader.tensors}

    def real(name, row, length=512):
        t = tensors[name]
        w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
        return w[row, :length].astype(np.float32)

    rng = np.random.default_rng(20261207)
    result = []
    for name, row in [("blk.0.ffn_down.weight", 0), ("blk.2.ffn_down.weight", 5), ("blk.0.attn_q.weight", 0),
                      ("blk.3.attn_v.weight", 7), ("token_embd.weight", 151643), ("blk.0.attn_norm.weight", 0)]:
        t = tensors[name]
        values = real(name, row)
        result.append((f"{name} row {row} ({t.tensor_type.name}), first {len(values)}", values))
        if t.tensor_type != Q.F32:
            # A merge re-encodes W + scale·B·A: the row moved off its grid by a small update.
            update = rng.standard_normal(len(values)).astype(np.float32) * np.float32(np.abs(values).mean() * 0.05)
            result.append((f"{name} row {row} plus a small update", (values + update).astype(np.float32)))

    normal = rng.standard_normal(512).astype(np.float32)
    outliers = rng.standard_normal(512).astype(np.float32) * 0.02
    outliers[[3, 77, 300, 301, 511]] = [1.5, -2.25, 0.9, -0.9, 3.0]
    zeros_in_part = rng.standard_normal(256).astype(np.float32)
    zeros_in_part[:64] = 0
    zeros_in_part[100:116] = 0
    ties = (np.arange(256) % 33 - 16).astype(np.float32) / 2  # exact halves at every scale
    result += [
        ("standard normal", normal),
        ("small values with outliers", outliers),
        ("all zeros", np.zeros(256, np.float32)),
        ("zeros in some sub-blocks", zeros_in_part),
        ("tiny magnitudes (scales near f16 subnormals)", (rng.standard_normal(256) * 1e-6).astype(np.float32)),
        ("positive only", rng.uniform(0.1, 1.0, 256).astype(np.float32)),
        ("negative only", -rng.uniform(0.1, 1.0, 256).astype(np.float32)),
        ("constant", np.full(256, 0.375, np.float32)),
        ("large magnitudes", (rng.standard_normal(256) * 3000).astype(np.float32)),
        ("exact halves", ties),
    ]
    return result


def main():
    with tempfile.TemporaryDirectory() as directory:
        binary = build_harness(directory)
        data = rows()
        encodings = {}
        for qtype in [Q.Q4_0, Q.Q5_0, Q.Q8_0, Q.Q4_K, Q.Q5_K, Q.Q6_K]:
            encoded = []
            for label, row in data:
                ref = reference(binary, qtype, row)
                if qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
                    try:
                        gguf.quants.quantize(row.reshape(1, -1), qtype)
                        sys.exit(f"gguf now quantizes {qtype.name}: compare it with the C reference here")
                    except NotImplementedError:
                        pass
                else:
                    python = gguf.quants.quantize(row.reshape(1, -1), qtype).tobytes()
                    assert python == ref, f"gguf-py and ggml-quants.c disagree on {qtype.name} for {label}"
                encoded.append(ref.hex())
            encodings[qtype.name] = encoded
        for qtype in [Q.F16, Q.BF16]:
            encodings[qtype.name] = [gguf.quants.quantize(row.reshape(1, -1), qtype).tobytes().hex() for _, row in data]
    result = {
        "reference": "llama.cpp ggml-quants.c quantize_row_*_ref (llama-cpp-python 0.3.36, cc -O2 -ffp-contract=off); "
                     "gguf 0.19.0 gguf.quants.quantize for Q4_0/Q5_0/Q8_0 (equal) and F16/BF16",
        "rows": [{"label": label, "float32": row.astype("<f4").tobytes().hex()} for label, row in data],
        "encodings": encodings,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes, {len(data)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
