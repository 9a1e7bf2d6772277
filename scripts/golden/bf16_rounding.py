"""Golden float32 -> bfloat16 conversions, as PyTorch converts tensors, for testing the rounding
of medtune's bfloat16 matrix products.

Pinned: torch 2.13 (CPU).

Hand-picked float32 bit patterns (ties to even in both directions, the largest finite float
rounding to infinity, signed zeros and infinities, quiet and signalling NaNs of both signs,
subnormals including ties) and seeded random ones over the whole bit space and over the usual
magnitudes, each with the bits of `tensor.to(torch.bfloat16)`.

Writes Tests/Golden/MedtuneCore/bf16_rounding.json.
Run from the repository root:  /work/venv/bin/python scripts/golden/bf16_rounding.py
"""
import json
import os

import torch

HAND = [
    0x3F800000,  # 1
    0x3F808000,  # 1 + half an ulp: tie, kept half even -> down
    0x3F818000,  # tie, kept half odd -> up
    0x3F808001,  # just above the tie -> up
    0x3F807FFF,  # just below the tie -> down
    0xBF818000,  # negative tie -> away from zero to even
    0x7F7FFFFF,  # largest float -> inf
    0x7F7F7FFF,  # largest float that stays finite
    0x00000000, 0x80000000,  # signed zeros
    0x7F800000, 0xFF800000,  # infinities
    0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7F800001, 0xFF800001, 0x7FFFFFFF,  # NaNs
    0x00000001, 0x00008000, 0x00018000, 0x00008001, 0x007FFFFF, 0x80018000, 0x00400000, 0x807F8000,  # subnormals
    0x00800000, 0x0080FFFF,  # smallest normal, and just below the next bf16
]


def main():
    generator = torch.Generator().manual_seed(7)
    anywhere = torch.randint(0, 2**32, (200,), generator=generator, dtype=torch.int64).tolist()
    usual = (torch.randn(200, generator=generator, dtype=torch.float32) * 10.0 ** torch.randint(-6, 6, (200,), generator=generator)).view(torch.int32)
    bits = HAND + anywhere + [b & 0xFFFFFFFF for b in usual.tolist()]
    floats = torch.tensor([b - 2**32 if b >= 2**31 else b for b in bits], dtype=torch.int32).view(torch.float32)
    rounded = floats.to(torch.bfloat16).view(torch.int16).to(torch.int32) & 0xFFFF
    out = {
        "torch": torch.__version__,
        "cases": [[f, r] for f, r in zip(bits, rounded.tolist())],
    }
    path = os.path.join("Tests", "Golden", "MedtuneCore", "bf16_rounding.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {len(bits)} cases to {path}")


if __name__ == "__main__":
    main()
