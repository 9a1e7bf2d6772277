// Hand-written numeric kernels that Swift cannot express: products on CPU instructions that need
// their own code paths (bfloat16 dot products), chosen at run time.
#ifndef MEDTUNE_CKERNELS_H
#define MEDTUNE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The register tile of `medtune_bf16_gemm`: callers that split a product into parts keep part
/// boundaries on multiples of these, so that no part ends in a partial tile it need not have.
enum { MEDTUNE_BF16_TILE_ROWS = 14, MEDTUNE_BF16_TILE_COLUMNS = 32 };

/// Nonzero when this CPU runs `medtune_bf16_gemm` (x86-64 with AVX-512 BF16); zero elsewhere.
int medtune_bf16_gemm_supported(void);

/// The bfloat16 nearest to `x` (ties to even), as its 16 bits, the way PyTorch converts float32
/// tensors: infinities and subnormals are kept, every NaN becomes the NaN 0xFFFF.
uint16_t medtune_bf16_bits(float x);

/// The float32 value of a bfloat16 given by its bits (exact).
float medtune_bf16_value(uint16_t bits);

/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major float32. op(A) is A, or
/// Aᵀ when `transA`; likewise B. `lda`, `ldb`, `ldc` are row strides as stored. The entries of
/// A and B are rounded to bfloat16 (as `medtune_bf16_bits`; subnormals count as zero, as they do
/// in the `vdpbf16ps` instruction) and their products summed in float32.
/// With beta 0, C is not read. Runs on the calling thread.
/// Returns 0, or -1 without touching C when the CPU lacks the instructions (see
/// `medtune_bf16_gemm_supported`) or memory for packing cannot be had.
int medtune_bf16_gemm(int transA, int transB, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                      float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                      float beta, float *c, ptrdiff_t ldc);

#endif
