// A GotoBLAS-style matrix product on AVX-512 BF16 (`vdpbf16ps`): float32 operands rounded to
// bfloat16 while packing, products summed in float32.
//
// Rounding is `vcvtne2ps2bf16`: to nearest, ties to even, as `medtune_bf16_bits` and PyTorch,
// except that it reads subnormal float32 as zero. `vdpbf16ps` reads subnormal bf16 as zero and
// flushes subnormal results anyway, so the products differ from those of PyTorch-rounded entries
// only for entries within 2⁻¹³⁴ below the smallest normal float32, which PyTorch rounds up to it.
//
// `vdpbf16ps` multiplies adjacent bf16 pairs and adds both products to one float32 lane, so the
// packed layouts hold k in pairs: a packed B panel is, for each k pair, 32 columns of (k, k+1)
// pairs (two vectors); a packed A panel is, for each k pair, MR rows of one pair each, which the
// micro-kernel broadcasts. The micro-kernel keeps an MR × 32 tile of C in registers.
//
// Blocking (Zen 5: 48 KB L1d, 1 MB L2 per core): a packed B micro-panel (KC × 32) stays in L1
// while the micro-kernel walks the packed block of A (MC × KC, in L2); the packed block of B
// (KC × NC) is streamed from L2/L3 one micro-panel at a time.
#include "CKernels.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define INLINE inline __attribute__((always_inline))

enum {
    NR = MEDTUNE_BF16_TILE_COLUMNS, // 32: two vectors of 16 float32 accumulators per row
    MR = MEDTUNE_BF16_TILE_ROWS,    // 14: 28 accumulators, 2 B vectors and a broadcast in 32 registers
    KC_MAX = 512,     // k of a packed block: a B micro-panel of 32 KB
    MC_MAX = 24 * MR, // rows of a packed block of A: 336 × 512 bf16 = 344 KB of L2
    NC_MAX = 2048,    // columns of a packed block of B
};

static INLINE __mmask16 first(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// dst[p·W + j] = (src[2p][j], src[2p+1][j]) in bf16, for k pairs p of `krows` rows (an odd last
/// row pairs with zero) and j < width; columns width..<W are zero. W is 32, or at most 16.
/// Used where k runs down the rows of the source: B as stored, or A transposed.
static AVX512_BF16 void pack_across_rows(const float *src, ptrdiff_t ld, int width, ptrdiff_t krows,
                                          uint32_t *dst, int W) {
    // Interleaves the 16 bf16 of the even row (words 0-15) with those of the odd row (16-31).
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const ptrdiff_t pairs = (krows + 1) / 2;
    for (ptrdiff_t p = 0; p < pairs; p++) {
        const float *even = src + 2 * p * ld;
        const int hasOdd = 2 * p + 1 < krows;
        for (int j0 = 0; j0 < W; j0 += 16) {
            const __mmask16 load = first(width - j0), store = first(W - j0);
            __m512i v = _mm512_setzero_si512();
            if (load) {
                const __m512 e = _mm512_maskz_loadu_ps(load, even + j0);
                const __m512 o = hasOdd ? _mm512_maskz_loadu_ps(load, even + ld + j0) : _mm512_setzero_ps();
                v = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(o, e));
            }
            _mm512_mask_storeu_epi32(dst + p * W + j0, store, v);
        }
    }
}

/// Transposes a 16 × 16 matrix of 32-bit words held one row per vector.
static INLINE AVX512_BF16 void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    // u[g][c]: lane L holds column 4L + c of rows 4g..4g+3.
    __m512i u[4][4];
    for (int g = 0; g < 4; g++) {
        u[g][0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[g][1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[g][2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[g][3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    // A 4 × 4 transpose of 128-bit lanes for each c.
    for (int c = 0; c < 4; c++) {
        const __m512i v0 = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0x44), v1 = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0xEE);
        const __m512i v2 = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0x44), v3 = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0xEE);
        r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
        r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
    }
}

/// dst[p·W + j] = (src[j][2p], src[j][2p+1]) in bf16, for k pairs p of `kcount` entries per row
/// (an odd last entry pairs with zero) and rows j < width; columns width..<W are zero. W is 32,
/// or at most 16. Used where k runs along the rows of the source: A as stored, or B transposed
/// (a weight matrix applied as x·Wᵀ). Sixteen rows of 16 pairs are rounded, transposed in
/// registers and stored a pair row at a time.
static AVX512_BF16 void pack_within_rows(const float *src, ptrdiff_t ld, int width, ptrdiff_t kcount,
                                          uint32_t *dst, int W) {
    const ptrdiff_t pairs = (kcount + 1) / 2;
    for (int j0 = 0; j0 < W; j0 += 16) {
        const int rows = width - j0 < 0 ? 0 : width - j0 > 16 ? 16 : width - j0;
        const __mmask16 store = first(W - j0);
        for (ptrdiff_t p0 = 0; p0 < pairs; p0 += 16) {
            const ptrdiff_t left = kcount - 2 * p0;
            const __mmask16 m0 = first(left), m1 = first(left - 16);
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                if (i < rows) {
                    const float *s = src + (j0 + i) * ld + 2 * p0;
                    r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, s + 16), _mm512_maskz_loadu_ps(m0, s));
                } else {
                    r[i] = _mm512_setzero_si512();
                }
            }
            transpose16(r);
            const ptrdiff_t count = pairs - p0 < 16 ? pairs - p0 : 16;
            for (ptrdiff_t q = 0; q < count; q++) _mm512_mask_storeu_epi32(dst + (p0 + q) * W + j0, store, r[q]);
        }
    }
}

/// C tile [mr × 32] = alpha · Apanel · Bpanel + beta · C over `pairs` k pairs; columns outside
/// the masks are neither read nor written. `mr` is a constant in each instantiation, so the
/// accumulators live in registers.
static INLINE AVX512_BF16 void tile(const int mr, ptrdiff_t pairs, const uint32_t *ap, const uint32_t *bp,
                                    float *c, ptrdiff_t ldc, float alpha, float beta, __mmask16 mask0, __mmask16 mask1) {
    __m512 acc0[MR], acc1[MR];
    for (int i = 0; i < mr; i++) {
        acc0[i] = acc1[i] = _mm512_setzero_ps();
        // C is needed only at the end: ask for its lines now, so that they arrive meanwhile.
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (ptrdiff_t p = 0; p < pairs; p++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
        for (int i = 0; i < mr; i++) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            acc0[i] = _mm512_dpbf16_ps(acc0[i], a, b0);
            acc1[i] = _mm512_dpbf16_ps(acc1[i], a, b1);
        }
        ap += mr;
        bp += NR;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *row = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(acc0[i], va), r1 = _mm512_mul_ps(acc1[i], va);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask0, row), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask1, row + 16), r1);
        }
        _mm512_mask_storeu_ps(row, mask0, r0);
        _mm512_mask_storeu_ps(row + 16, mask1, r1);
    }
}

typedef void (*tile_fn)(ptrdiff_t, const uint32_t *, const uint32_t *, float *, ptrdiff_t, float, float, __mmask16, __mmask16);
#define TILE(R)                                                                                                   \
    static AVX512_BF16 void tile##R(ptrdiff_t pairs, const uint32_t *ap, const uint32_t *bp, float *c,          \
                                    ptrdiff_t ldc, float alpha, float beta, __mmask16 m0, __mmask16 m1) {       \
        tile(R, pairs, ap, bp, c, ldc, alpha, beta, m0, m1);                                                    \
    }
TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) TILE(13) TILE(14)
_Static_assert(MR == 14, "one tile function per row count up to MR");
static const tile_fn tiles[MR + 1] = {
    NULL, tile1, tile2, tile3, tile4, tile5, tile6, tile7, tile8, tile9, tile10, tile11, tile12, tile13, tile14,
};

static ptrdiff_t round_up(ptrdiff_t x, ptrdiff_t to) { return (x + to - 1) / to * to; }

static AVX512_BF16 int gemm(int transA, int transB, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                            const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
    // Equal k blocks (even, so that pairs never straddle two blocks); likewise for m.
    const ptrdiff_t kBlocks = (k + KC_MAX - 1) / KC_MAX;
    const ptrdiff_t kc = round_up((k + kBlocks - 1) / kBlocks, 2);
    const ptrdiff_t mBlocks = (m + MC_MAX - 1) / MC_MAX;
    const ptrdiff_t mc = round_up((m + mBlocks - 1) / mBlocks, MR);
    const ptrdiff_t nc = n < NC_MAX ? round_up(n, NR) : NC_MAX;
    uint32_t *bPacked = aligned_alloc(64, (size_t)(kc / 2 * nc) * sizeof(uint32_t));
    uint32_t *aPacked = aligned_alloc(64, (size_t)round_up(kc / 2 * mc * (ptrdiff_t)sizeof(uint32_t), 64));
    if (!bPacked || !aPacked) {
        free(bPacked);
        free(aPacked);
        return -1;
    }
    for (ptrdiff_t jc = 0; jc < n; jc += nc) {
        const ptrdiff_t ncHere = n - jc < nc ? n - jc : nc;
        for (ptrdiff_t pc = 0; pc < k; pc += kc) {
            const ptrdiff_t kcHere = k - pc < kc ? k - pc : kc, pairs = (kcHere + 1) / 2;
            const float betaHere = pc == 0 ? beta : 1;
            for (ptrdiff_t jr = 0; jr < ncHere; jr += NR) {
                const int width = ncHere - jr < NR ? (int)(ncHere - jr) : NR;
                uint32_t *panel = bPacked + jr * pairs;
                if (transB) pack_within_rows(b + (jc + jr) * ldb + pc, ldb, width, kcHere, panel, NR);
                else pack_across_rows(b + pc * ldb + jc + jr, ldb, width, kcHere, panel, NR);
            }
            for (ptrdiff_t ic = 0; ic < m; ic += mc) {
                const ptrdiff_t mcHere = m - ic < mc ? m - ic : mc;
                for (ptrdiff_t ir = 0; ir < mcHere; ir += MR) {
                    const int rows = mcHere - ir < MR ? (int)(mcHere - ir) : MR;
                    uint32_t *panel = aPacked + ir * pairs;
                    if (transA) pack_across_rows(a + pc * lda + ic + ir, lda, rows, kcHere, panel, rows);
                    else pack_within_rows(a + (ic + ir) * lda + pc, lda, rows, kcHere, panel, rows);
                }
                for (ptrdiff_t jr = 0; jr < ncHere; jr += NR) {
                    const __mmask16 m0 = first(ncHere - jr), m1 = first(ncHere - jr - 16);
                    const uint32_t *bPanel = bPacked + jr * pairs;
                    for (ptrdiff_t ir = 0; ir < mcHere; ir += MR) {
                        const int rows = mcHere - ir < MR ? (int)(mcHere - ir) : MR;
                        tiles[rows](pairs, aPacked + ir * pairs, bPanel, c + (ic + ir) * ldc + jc + jr, ldc,
                                    alpha, betaHere, m0, m1);
                    }
                }
            }
        }
    }
    free(bPacked);
    free(aPacked);
    return 0;
}

int medtune_bf16_gemm_supported(void) {
    unsigned eax, ebx, ecx, edx;
    // The OS must save the AVX-512 registers (XCR0: SSE, AVX, opmask, upper ZMM, ZMM16-31).
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned xcr0Low, xcr0High;
    __asm__("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    if ((xcr0Low & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned needed = bit_AVX512F | bit_AVX512BW | bit_AVX512VL;
    if ((ebx & needed) != needed) return 0;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax & (1u << 5)) != 0;  // AVX512_BF16
}

#else

int medtune_bf16_gemm_supported(void) { return 0; }

#endif

int medtune_bf16_gemm(int transA, int transB, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                      float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                      float beta, float *c, ptrdiff_t ldc) {
    if (!medtune_bf16_gemm_supported()) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
#if defined(__x86_64__)
    return gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
    (void)transA; (void)transB; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    return -1;
#endif
}
