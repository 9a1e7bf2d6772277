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

// Integer products of GGML block-quantized weight rows (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K) with
// activation rows quantized to 8 bits, the arithmetic of llama.cpp's CPU backend: the activations
// in blocks of 32 for the 32-element weight formats (its q8_0) and of 256 for the K formats (its
// q8_K), each block one float scale and 8-bit values, with the sums of every 16 values for the
// offsets the weight formats share per sub-block. Products of the 8-bit integers are summed
// exactly in int32 within a block; only the block results are scaled and summed in float32.

/// The kernels of `medtune_q8_dots`, slowest first: portable C, AVX2 (`vpmaddubsw`), and
/// AVX-512 VNNI (`vpdpbusd`, `vpdpwssd`).
enum { MEDTUNE_Q8_SCALAR = 0, MEDTUNE_Q8_AVX2 = 1, MEDTUNE_Q8_AVX512_VNNI = 2 };

/// The fastest kernel this CPU runs (one of the MEDTUNE_Q8_ values).
int medtune_q8_best_kernel(void);

/// The activation block size that weights of GGML type `ggml_type` multiply with: 32 (Q4_0,
/// Q5_0, Q8_0), 256 (Q4_K, Q5_K, Q6_K), or 0 for a type without integer kernels.
int medtune_q8_block_size(int ggml_type);

/// An activation row of n values in blocks: value i is scales[i / block] · values[i], and
/// sums[g] = values[16g] + … + values[16g + 15].
typedef struct {
    const int8_t *values;
    const float *scales;
    const int16_t *sums;
} medtune_q8_row;

/// Quantizes x[n] (n a multiple of `block`, 32 or 256) into `values` [n], `scales` [n / block]
/// and `sums` [n / 16]: each block's scale is its largest magnitude / 127 and each value x / scale
/// rounded to nearest (ties to even). A block holding a NaN or an infinity gets a NaN scale.
void medtune_q8_quantize(const float *x, ptrdiff_t n, int block, int8_t *values, float *scales, int16_t *sums);

/// y[r] = Σ_i w_r[i] · x[i] (added to y[r] when `accumulate`) for the `rows` weight rows of GGML
/// type `ggml_type` that start at `weights`, `row_bytes` apart, each of n elements; x is quantized
/// in the block size the type takes. `kernel` is at most `medtune_q8_best_kernel()`. Runs on the
/// calling thread.
void medtune_q8_dots(int kernel, int ggml_type, const void *weights, ptrdiff_t row_bytes, ptrdiff_t rows, ptrdiff_t n,
                     medtune_q8_row x, float *y, int accumulate);

/// The wrapping sum of the 64-bit words in bytes[0..<count] (count a multiple of 64): a read
/// that runs at the speed of memory, for measuring its bandwidth.
uint64_t medtune_sum_words(const void *bytes, size_t count);

#endif
