// Integer dot products of GGML block-quantized weight rows with 8-bit activation rows (see
// CKernels.h). The block layouts are those of ggml-common.h; every kernel computes, per weight
// block, the exact integer sum of (weight quant · activation value) for each group that shares a
// weight scale, subtracts the format's offset through the activation sums, and scales the block
// in float32 by the weight scale(s) times the activation block scale.
//
// Weight quants enter the vector products unsigned (vpmaddubsw and vpdpbusd multiply unsigned
// by signed bytes): the 4-, 5- and 6-bit formats store them so, with the offset (8, 16, 32) or
// the K formats' mins subtracted through the activation sums, exactly in int32 per block (the
// AVX-512 kernels of Q4_0, Q5_0, Q8_0 and the Q4_K/Q5_K mins scale that product apart and
// subtract it in float32); Q8_0's signed quants multiply as their magnitudes with the
// activations' signs flipped where they are negative (AVX2), or shifted by 128 (AVX-512).
#include "CKernels.h"

#include <math.h>
#include <string.h>

enum { GGML_Q4_0 = 2, GGML_Q5_0 = 6, GGML_Q8_0 = 8, GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14 };

int medtune_q8_block_size(int ggml_type) {
    switch (ggml_type) {
    case GGML_Q4_0: case GGML_Q5_0: case GGML_Q8_0: return 32;
    case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K: return 256;
    default: return 0;
    }
}

void medtune_q8_quantize(const float *x, ptrdiff_t n, int block, int8_t *values, float *scales, int16_t *sums) {
    for (ptrdiff_t b = 0; b < n / block; b++) {
        const float *xb = x + b * block;
        int8_t *q = values + b * block;
        float amax = 0, poison = 0;
        for (int i = 0; i < block; i++) {
            amax = fmaxf(amax, fabsf(xb[i]));
            poison += xb[i] * 0.0f; // NaN when the block holds a NaN or an infinity
        }
        const float inverse = amax > 0 ? 127.0f / amax : 0.0f;
        scales[b] = amax / 127.0f + poison;
        for (int i = 0; i < block; i++) {
            // fminf/fmaxf map NaN to a bound, so the conversion is always defined.
            q[i] = (int8_t)(int)rintf(fminf(127.0f, fmaxf(-127.0f, xb[i] * inverse)));
        }
    }
    for (ptrdiff_t g = 0; g < n / 16; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += values[16 * g + i];
        sums[g] = (int16_t)sum;
    }
}

// MARK: Block fields

/// The float value of the IEEE half at `p` (little-endian).
static float half_at(const uint8_t *p) {
    const uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    const uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | mantissa << 13;
    } else if (exponent != 0) {
        bits = sign | (exponent + 112) << 23 | mantissa << 13;
    } else {
        // Zero or subnormal: mantissa · 2⁻²⁴, exact in float32.
        const float magnitude = (float)mantissa * 0x1p-24f;
        memcpy(&bits, &magnitude, sizeof bits);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/// The eight 6-bit scales and mins of a Q4_K/Q5_K block from its 12 packed bytes (ggml's
/// `get_scale_min_k4`, four sub-blocks per 32-bit word): sub-blocks 0–3 keep six bits of bytes
/// 0–3 (scales) and 4–7 (mins); 4–7 join a nibble of bytes 8–11 with the top two bits of those.
static void unpack_scales_mins(const uint8_t *packed, uint8_t scales[8], uint8_t mins[8]) {
    const uint32_t w0 = le32(packed), w1 = le32(packed + 4), w2 = le32(packed + 8);
    const uint32_t words[4] = {
        w0 & 0x3F3F3F3Fu, (w2 & 0x0F0F0F0Fu) | ((w0 >> 6) & 0x03030303u) << 4,
        w1 & 0x3F3F3F3Fu, ((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 6) & 0x03030303u) << 4,
    };
    for (int i = 0; i < 4; i++) {
        scales[i] = (uint8_t)(words[0] >> 8 * i); scales[i + 4] = (uint8_t)(words[1] >> 8 * i);
        mins[i] = (uint8_t)(words[2] >> 8 * i); mins[i + 4] = (uint8_t)(words[3] >> 8 * i);
    }
}

// MARK: Portable kernels

/// Σ q[i]·a[i] over `count` values.
static int32_t integer_dot(const uint8_t *q, const int8_t *a, int count) {
    int32_t sum = 0;
    for (int i = 0; i < count; i++) sum += (int32_t)q[i] * a[i];
    return sum;
}

/// The unsigned quants of a 32-element block in element order, and the offset they carry.
static int unpack32(int type, const uint8_t *block, uint8_t q[32]) {
    switch (type) {
    case GGML_Q4_0:
        for (int j = 0; j < 16; j++) { q[j] = block[2 + j] & 15; q[j + 16] = block[2 + j] >> 4; }
        return 8;
    case GGML_Q5_0: {
        const uint32_t high = le32(block + 2);
        for (int j = 0; j < 16; j++) {
            q[j] = (uint8_t)((block[6 + j] & 15) | ((high >> j) & 1) << 4);
            q[j + 16] = (uint8_t)((block[6 + j] >> 4) | ((high >> (j + 16)) & 1) << 4);
        }
        return 16;
    }
    default: // GGML_Q8_0: signed; shifted by 128 here, the offset taking it back.
        for (int j = 0; j < 32; j++) q[j] = block[2 + j] ^ 0x80;
        return 128;
    }
}

static float scalar_dot32(int type, int block_bytes, const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    float sum = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes;
        uint8_t q[32];
        const int offset = unpack32(type, block, q);
        const int32_t dot = integer_dot(q, x->values + 32 * b, 32) - offset * (x->sums[2 * b] + x->sums[2 * b + 1]);
        sum += half_at(block) * x->scales[b] * (float)dot;
    }
    return sum;
}

/// The unsigned quants of a K block in element order.
static void unpack_k(int type, const uint8_t *block, uint8_t q[256]) {
    switch (type) {
    case GGML_Q4_K:
    case GGML_Q5_K: {
        const uint8_t *nibbles = block + (type == GGML_Q4_K ? 16 : 48), *high = block + 16;
        for (int pair = 0; pair < 4; pair++) {
            for (int l = 0; l < 32; l++) {
                const uint8_t byte = nibbles[32 * pair + l];
                q[64 * pair + l] = byte & 15;
                q[64 * pair + 32 + l] = byte >> 4;
                if (type == GGML_Q5_K) {
                    q[64 * pair + l] |= ((high[l] >> (2 * pair)) & 1) << 4;
                    q[64 * pair + 32 + l] |= ((high[l] >> (2 * pair + 1)) & 1) << 4;
                }
            }
        }
        break;
    }
    default: // GGML_Q6_K: 128 bytes of low nibbles, 64 of 2-bit high parts, per half of 128.
        for (int half = 0; half < 2; half++) {
            const uint8_t *low = block + 64 * half, *high = block + 128 + 32 * half;
            uint8_t *out = q + 128 * half;
            for (int l = 0; l < 32; l++) {
                out[l] = (uint8_t)((low[l] & 15) | (high[l] & 3) << 4);
                out[l + 32] = (uint8_t)((low[l + 32] & 15) | ((high[l] >> 2) & 3) << 4);
                out[l + 64] = (uint8_t)((low[l] >> 4) | ((high[l] >> 4) & 3) << 4);
                out[l + 96] = (uint8_t)((low[l + 32] >> 4) | ((high[l] >> 6) & 3) << 4);
            }
        }
    }
}

static float scalar_dot_k(int type, int block_bytes, const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    float sum = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes;
        const int8_t *a = x->values + 256 * b;
        const int16_t *sums = x->sums + 16 * b;
        uint8_t q[256];
        unpack_k(type, block, q);
        if (type == GGML_Q6_K) {
            // value = d · scale[g] · (q − 32) for the sixteen groups g of sixteen.
            const int8_t *scales = (const int8_t *)(block + 192);
            int32_t dot = 0;
            for (int g = 0; g < 16; g++) dot += scales[g] * (integer_dot(q + 16 * g, a + 16 * g, 16) - 32 * sums[g]);
            sum += half_at(block + 208) * x->scales[b] * (float)dot;
        } else {
            // value = d · scale[s] · q − dmin · min[s] for the eight sub-blocks s of 32.
            uint8_t scales[8], mins[8];
            unpack_scales_mins(block + 4, scales, mins);
            int32_t dot = 0, offset = 0;
            for (int s = 0; s < 8; s++) {
                dot += scales[s] * integer_dot(q + 32 * s, a + 32 * s, 32);
                offset += mins[s] * (sums[2 * s] + sums[2 * s + 1]);
            }
            sum += x->scales[b] * (half_at(block) * (float)dot - half_at(block + 2) * (float)offset);
        }
    }
    return sum;
}

static float scalar_dot(int type, const uint8_t *row, const medtune_q8_row *x, ptrdiff_t n) {
    switch (type) {
    case GGML_Q4_0: return scalar_dot32(type, 18, row, x, n / 32);
    case GGML_Q5_0: return scalar_dot32(type, 22, row, x, n / 32);
    case GGML_Q8_0: return scalar_dot32(type, 34, row, x, n / 32);
    case GGML_Q4_K: return scalar_dot_k(type, 144, row, x, n / 256);
    case GGML_Q5_K: return scalar_dot_k(type, 176, row, x, n / 256);
    default: return scalar_dot_k(type, 210, row, x, n / 256);
    }
}

/// A kernel for one weight type: Σ w·x over a row of `blocks` blocks.
typedef float (*row_dot)(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks);

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define INLINE inline __attribute__((always_inline))
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// MARK: AVX2: 32 elements per vector

/// The eight int32 sums of four adjacent u8·s8 products of 32 bytes.
static INLINE AVX2 __m256i pairs_dot(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/// Byte i is 16 where bit i of `bits` is set: byte i takes byte i / 8 of `bits` and keeps bit i % 8.
static INLINE AVX2 __m256i fifth_bits(uint32_t bits) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
                                               _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                                 0x0101010101010101, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(16));
}

/// acc + the eight sums of four u8·s8 products, each pair's sum first multiplied by its 16-bit
/// lane of `scales` (the K formats' sub-block scales).
static INLINE AVX2 __m256i scaled_add_avx2(__m256i acc, __m256i u, __m256i s, __m256i scales) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales));
}
#define Q8_TARGET AVX2
#define Q8_NAME(name) name##_avx2
#include "q8_vector_kernels.h"
#undef Q8_TARGET
#undef Q8_NAME

/// A Q4_K/Q5_K block's eight sub-block scales, and Σ min[s] · (the activation sum of sub-block
/// s), the mins' share of its product (from the sixteen group sums at `sums`).
static INLINE AVX2 int k4_offset(const uint8_t *block, const int16_t *sums, uint8_t scales[8]) {
    uint8_t mins[8];
    unpack_scales_mins(block + 4, scales, mins);
    const __m128i subSums = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)sums), _mm_loadu_si128((const __m128i *)(sums + 8)));
    __m128i weighted = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins)), subSums);
    weighted = _mm_add_epi32(weighted, _mm_shuffle_epi32(weighted, 0x4E));
    weighted = _mm_add_epi32(weighted, _mm_shuffle_epi32(weighted, 0xB1));
    return _mm_cvtsi128_si32(weighted);
}

/// Q4_K and Q5_K: eight sub-blocks of 32 with 6-bit scales and mins; the quants of sub-blocks
/// 2p and 2p+1 are the low and high nibbles of bytes 32p…32p+31 (plus, for Q5_K, bits 2p and
/// 2p+1 of the 32 high-bit bytes as their fifth bit). The mins enter through the activation sums.
static INLINE AVX2 float dot_k4_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks, int fifth_bit) {
    const int block_bytes = fifth_bit ? 176 : 144;
    const __m256i low = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes, *nibbles = block + (fifth_bit ? 48 : 16);
        const int8_t *a = x->values + 256 * b;
        uint8_t scales[8];
        const int offset = k4_offset(block, x->sums + 16 * b, scales);

        __m256i high = fifth_bit ? _mm256_loadu_si256((const __m256i *)(block + 16)) : _mm256_setzero_si256();
        __m256i dot = _mm256_setzero_si256();
        for (int pair = 0; pair < 4; pair++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(nibbles + 32 * pair));
            __m256i first = _mm256_and_si256(q, low), second = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            if (fifth_bit) {
                first = _mm256_or_si256(first, _mm256_slli_epi16(_mm256_and_si256(high, one), 4));
                second = _mm256_or_si256(second, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 1), one), 4));
                high = _mm256_srli_epi16(high, 2);
            }
            dot = scaled_add_avx2(dot, first, _mm256_loadu_si256((const __m256i *)(a + 64 * pair)), _mm256_set1_epi16(scales[2 * pair]));
            dot = scaled_add_avx2(dot, second, _mm256_loadu_si256((const __m256i *)(a + 64 * pair + 32)), _mm256_set1_epi16(scales[2 * pair + 1]));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(half_avx2(block) * x->scales[b]), acc);
        offsets += half_avx2(block + 2) * x->scales[b] * (float)offset;
    }
    return sum8_avx2(acc) - offsets;
}

static AVX2 float dot_q4_K_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot_k4_avx2(row, x, blocks, 0);
}

static AVX2 float dot_q5_K_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot_k4_avx2(row, x, blocks, 1);
}

/// Q6_K: sixteen groups of 16 with signed 8-bit scales; per half of 128 elements, 64 bytes of
/// low nibbles and 32 of 2-bit high parts (see q8_dot.c `unpack_k`). The −32 of every quant
/// enters as 32 · Σ scale[g] · sum[g], subtracted in int32.
static AVX2 float dot_q6_K_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    const __m256i low = _mm256_set1_epi8(15), bits01 = _mm256_set1_epi8(3), bits23 = _mm256_set1_epi8(12),
                  bits45 = _mm256_set1_epi8(48);
    __m256 acc = _mm256_setzero_ps();
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * 210;
        const int8_t *a = x->values + 256 * b, *scales = (const int8_t *)(block + 192);
        const __m256i groupScales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
        const __m256i offset = _mm256_madd_epi16(groupScales, _mm256_loadu_si256((const __m256i *)(x->sums + 16 * b)));
        __m256i dot = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        for (int half = 0; half < 2; half++) {
            const uint8_t *nibbles = block + 64 * half;
            const __m256i high = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * half));
            const __m256i first = _mm256_loadu_si256((const __m256i *)nibbles);
            const __m256i second = _mm256_loadu_si256((const __m256i *)(nibbles + 32));
            const __m256i quarters[4] = {
                _mm256_or_si256(_mm256_and_si256(first, low), _mm256_slli_epi16(_mm256_and_si256(high, bits01), 4)),
                _mm256_or_si256(_mm256_and_si256(second, low), _mm256_slli_epi16(_mm256_and_si256(high, bits23), 2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(first, 4), low), _mm256_and_si256(high, bits45)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(second, 4), low),
                                _mm256_and_si256(_mm256_srli_epi16(high, 2), bits45)),
            };
            for (int quarter = 0; quarter < 4; quarter++) {
                const int g = 8 * half + 2 * quarter;
                const __m256i pairScales = _mm256_set_m128i(_mm_set1_epi16(scales[g + 1]), _mm_set1_epi16(scales[g]));
                dot = scaled_add_avx2(dot, quarters[quarter], _mm256_loadu_si256((const __m256i *)(a + 128 * half + 32 * quarter)), pairScales);
            }
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(half_avx2(block + 208) * x->scales[b]), acc);
    }
    return sum8_avx2(acc);
}

/// Sixteen 4-bit values as 32 bytes in element order: low nibbles (elements 0–15), then high.
static INLINE AVX2 __m256i nibbles16(const uint8_t *p) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)p);
    const __m128i low = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), low), _mm_and_si128(bytes, low));
}

/// A 32-element block's integer dot with the activations `a` (before the offset): its quants
/// unsigned in element order, times a. Q8_0's signed quants multiply as |w| times a with w's
/// sign, so that no pair sum can saturate vpmaddubsw's 16 bits.
static INLINE AVX2 __m256i q4_0_dot_avx2(const uint8_t *block, __m256i a) {
    return pairs_dot(nibbles16(block + 2), a);
}

static INLINE AVX2 __m256i q5_0_dot_avx2(const uint8_t *block, __m256i a) {
    uint32_t high;
    memcpy(&high, block + 2, sizeof high);
    return pairs_dot(_mm256_or_si256(nibbles16(block + 6), fifth_bits(high)), a);
}

static INLINE AVX2 __m256i q8_0_dot_avx2(const uint8_t *block, __m256i a) {
    const __m256i w = _mm256_loadu_si256((const __m256i *)(block + 2));
    return pairs_dot(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

/// Rows of 32-element blocks (f16 scale first): each block's integer dot, less `offset` times the
/// block's activation sum (in lane 0), converted and accumulated with the two scales' product.
/// The offset is Q4_0's 8 and Q5_0's 16; Q8_0's quants are signed and have none.
/// Two accumulators take alternate blocks, so consecutive blocks do not wait on each other.
static INLINE AVX2 float dot32_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks, int block_bytes,
                                             __m256i (*block_dot)(const uint8_t *, __m256i), int offset) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes;
        const __m256i a = _mm256_loadu_si256((const __m256i *)(x->values + 32 * b));
        const int correction = offset * (x->sums[2 * b] + x->sums[2 * b + 1]);
        const __m256i dot = _mm256_sub_epi32(block_dot(block, a), _mm256_setr_epi32(correction, 0, 0, 0, 0, 0, 0, 0));
        const __m256 scaled = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(half_avx2(block) * x->scales[b]));
        if (b & 1) acc1 = _mm256_add_ps(acc1, scaled); else acc0 = _mm256_add_ps(acc0, scaled);
    }
    return sum8_avx2(_mm256_add_ps(acc0, acc1));
}

static AVX2 float dot_q4_0_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_avx2(row, x, blocks, 18, q4_0_dot_avx2, 8);
}

static AVX2 float dot_q5_0_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_avx2(row, x, blocks, 22, q5_0_dot_avx2, 16);
}

static AVX2 float dot_q8_0_avx2(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_avx2(row, x, blocks, 34, q8_0_dot_avx2, 0);
}

// MARK: AVX-512 VNNI: 64 elements per vector

#define Q8_TARGET VNNI
#define Q8_NAME(name) name##_vnni
#include "q8_vector_kernels.h"

/// Q4_K and Q5_K (see dot_k4_avx2) a pair of sub-blocks per 512-bit vector: the 32 nibble bytes
/// loaded into both halves, the upper half shifted down a nibble (vpsrlvw), and for Q5_K the
/// fifth bits of the pair shifted to bit 4 per half; each pair's two scales come from one
/// vpermw of the block's eight, and the products of a pair add through one vpdpwssd.
static INLINE VNNI float dot_k4_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks, int fifth_bit) {
    const int block_bytes = fifth_bit ? 176 : 144;
    const __m512i low = _mm512_set1_epi8(15), bit4 = _mm512_set1_epi8(16);
    const __m512i upperHalf = _mm512_maskz_mov_epi16(0xFFFF0000u, _mm512_set1_epi16(1));
    const __m512i nibbleShift = _mm512_slli_epi16(upperHalf, 2); // 0 below, 4 above
    // Bits 2p and 2p + 1 of a high byte (after p shifts by 2, bits 0 and 1) up to bit 4; within a
    // byte, as the 16-bit shifts bring no neighbor's bit there.
    const __m512i fifthShift = _mm512_sub_epi16(_mm512_set1_epi16(4), upperHalf);
    __m512 acc = _mm512_setzero_ps();
    float offsets = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes, *nibbles = block + (fifth_bit ? 48 : 16);
        const int8_t *a = x->values + 256 * b;
        uint8_t scales[8];
        const int offset = k4_offset(block, x->sums + 16 * b, scales);
        const __m512i subScales = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)scales)));
        __m512i high = fifth_bit ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(block + 16))) : _mm512_setzero_si512();
        __m512i dot = _mm512_setzero_si512();
        for (int pair = 0; pair < 4; pair++) {
            const __m512i bytes = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(nibbles + 32 * pair)));
            __m512i q = _mm512_and_si512(_mm512_srlv_epi16(bytes, nibbleShift), low);
            if (fifth_bit) {
                q = _mm512_ternarylogic_epi32(_mm512_sllv_epi16(high, fifthShift), bit4, q, 0xEA); // (A & B) | C
                high = _mm512_srli_epi16(high, 2);
            }
            const __m512i pairScales = _mm512_permutexvar_epi16(_mm512_add_epi16(upperHalf, _mm512_set1_epi16((short)(2 * pair))), subScales);
            dot = _mm512_dpwssd_epi32(dot, _mm512_maddubs_epi16(q, _mm512_loadu_si512(a + 64 * pair)), pairScales);
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(half_vnni(block) * x->scales[b]), acc);
        offsets += half_vnni(block + 2) * x->scales[b] * (float)offset;
    }
    return _mm512_reduce_add_ps(acc) - offsets;
}

static VNNI float dot_q4_K_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot_k4_vnni(row, x, blocks, 0);
}

static VNNI float dot_q5_K_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot_k4_vnni(row, x, blocks, 1);
}

/// Q6_K (see dot_q6_K_avx2) a half of 128 elements in two 512-bit vectors: the 64 low-nibble
/// bytes are one load, each byte holding elements of quarters 0 and 1 (low nibble) and of 2 and 3
/// (high), and the 32 bytes of 2-bit high parts, loaded into both 256-bit halves, are shifted
/// per half (vpsllvw, vpsrlvw) to bits 4–5 of each quarter's byte. Each quarter pair's group
/// scales come from one vpermw of the block's sixteen.
static VNNI float dot_q6_K_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    const __m512i low = _mm512_set1_epi8(15), bits45 = _mm512_set1_epi8(48);
    // Word shifts of the high parts: quarters 0 and 1 take bits 0–1 and 2–3 up to 4–5, quarters
    // 2 and 3 bits 4–5 and 6–7; a byte's bits 4–5 never come from its neighbor at these counts.
    const __m512i up01 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    const __m512i down23 = _mm512_maskz_mov_epi16(0xFFFF0000u, _mm512_set1_epi16(2));
    // Group g of 16 elements covers words 8(g mod 4) … 8(g mod 4) + 7 of its quarter pair's vector.
    const __m512i groupOfWord = _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                                                   15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 3);
    __m512 acc = _mm512_setzero_ps();
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * 210;
        const int8_t *a = x->values + 256 * b;
        const __m256i groupScales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 192)));
        const __m512i scales = _mm512_castsi256_si512(groupScales);
        // The −32 of every quant: 32 · Σ scale[g] · sum[g], subtracted in int32.
        const __m256i offset = _mm256_madd_epi16(groupScales, _mm256_loadu_si256((const __m256i *)(x->sums + 16 * b)));
        __m512i dot = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
        for (int half = 0; half < 2; half++) {
            const __m512i nibbles = _mm512_loadu_si512(block + 64 * half);
            const __m512i high = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(block + 128 + 32 * half)));
            // (nibbles & 15) | (shifted high & 48) in one instruction each (truth table 0xEA of A & B | C).
            const __m512i q01 = _mm512_ternarylogic_epi32(nibbles, low, _mm512_and_si512(_mm512_sllv_epi16(high, up01), bits45), 0xEA);
            const __m512i q23 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(nibbles, 4), low,
                                                          _mm512_and_si512(_mm512_srlv_epi16(high, down23), bits45), 0xEA);
            const __m512i groups = _mm512_add_epi16(groupOfWord, _mm512_set1_epi16((short)(8 * half)));
            dot = _mm512_dpwssd_epi32(dot, _mm512_maddubs_epi16(q01, _mm512_loadu_si512(a + 128 * half)), _mm512_permutexvar_epi16(groups, scales));
            dot = _mm512_dpwssd_epi32(dot, _mm512_maddubs_epi16(q23, _mm512_loadu_si512(a + 128 * half + 64)),
                                      _mm512_permutexvar_epi16(_mm512_add_epi16(groups, _mm512_set1_epi16(4)), scales));
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(half_vnni(block + 208) * x->scales[b]), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/// Two consecutive 32-element blocks of 4-bit values (16 bytes at each of `first` and `second`),
/// each 16 bytes in two 128-bit lanes, the second copy shifted down by a nibble: the quants in
/// element order once `high_bits` has masked each byte to its low nibble (and added any fifth bit).
static INLINE VNNI __m512i nibble_pair(const uint8_t *first, const uint8_t *second, __m512i high_bits) {
    const __m256i both = _mm256_loadu2_m128i((const __m128i *)second, (const __m128i *)first);
    const __m512i doubled = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(both));
    const __m512i shifted = _mm512_mask_srli_epi16(doubled, 0xFF00FF00u, doubled, 4);
    // (shifted & 15) | high_bits in one instruction (truth table 0xF8 of A | (B & C)).
    return _mm512_ternarylogic_epi32(high_bits, shifted, _mm512_set1_epi8(15), 0xF8);
}

static INLINE VNNI __m512i q4_0_pair(const uint8_t *first, const uint8_t *second) {
    return nibble_pair(first + 2, second + 2, _mm512_setzero_si512());
}

static INLINE VNNI __m512i q5_0_pair(const uint8_t *first, const uint8_t *second) {
    const uint64_t high = le32(first + 2) | (uint64_t)le32(second + 2) << 32;
    return nibble_pair(first + 6, second + 6, _mm512_maskz_mov_epi8(high, _mm512_set1_epi8(16)));
}

/// Q8_0's signed quants shifted by 128 (an exclusive or), which the offset takes back.
static INLINE VNNI __m512i q8_0_pair(const uint8_t *first, const uint8_t *second) {
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(first + 2))),
                                            _mm256_loadu_si256((const __m256i *)(second + 2)), 1);
    return _mm512_xor_si512(both, _mm512_set1_epi8((char)0x80));
}

/// Blocks b … b + count − 1 (count 1 to 4) of a row of 32-element blocks (f16 scale first),
/// added to acc[0] (blocks b, b + 1) and acc[1] (b + 2, b + 3). A pair of blocks is one vpdpbusd,
/// lanes 0–7 summing the first block's products and 8–15 the second's, converted and scaled by
/// each block's two scales' product. The offset enters apart, in `offsets`: −offset times each
/// block's activation sum (exact, from the group sums) times the same scales, four blocks in
/// one vector, which costs fewer vector operations per pair than a second vpdpbusd and a
/// subtraction. A block past `count` has zero activations, sums and scales, and pairs with its
/// predecessor.
static INLINE VNNI void step32_vnni(__m512 acc[2], __m128 *offsets, const uint8_t *row, const medtune_q8_row *x, ptrdiff_t b, int count,
                                    int block_bytes, __m512i (*pair)(const uint8_t *, const uint8_t *), int offset) {
    const uint8_t *blocks[4];
    uint64_t halves = 0;
    for (int k = 0; k < 4; k++) {
        blocks[k] = row + (b + (k < count ? k : count - 1)) * block_bytes;
        if (k < count) halves |= (uint64_t)(blocks[k][0] | blocks[k][1] << 8) << 16 * k;
    }
    const __mmask8 present = (__mmask8)((1u << count) - 1);
    const __m128 scales = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)halves)), _mm_maskz_loadu_ps(present, x->scales + b));
    const __m128i blockOffsets = _mm_madd_epi16(_mm_maskz_loadu_epi32(present, x->sums + 2 * b), _mm_set1_epi16((short)-offset));
    *offsets = _mm_fmadd_ps(scales, _mm_cvtepi32_ps(blockOffsets), *offsets);
    for (int p = 0; 2 * p < count; p++) {
        const __m512i a = _mm512_maskz_loadu_epi8(2 * p + 1 < count ? ~0ull : 0xFFFFFFFFull, x->values + 32 * (b + 2 * p));
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair(blocks[2 * p], blocks[2 * p + 1]), a);
        const __m512i halvesLanes = _mm512_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p,
                                                      2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1);
        acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(halvesLanes, _mm512_castps128_ps512(scales)), acc[p]);
    }
}

/// Rows of 32-element blocks, four blocks per step into two accumulators, so that consecutive
/// pairs do not wait on each other's additions.
static INLINE VNNI float dot32_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks, int block_bytes,
                                    __m512i (*pair)(const uint8_t *, const uint8_t *), int offset) {
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    __m128 offsets = _mm_setzero_ps();
    ptrdiff_t b = 0;
    for (; b + 4 <= blocks; b += 4) step32_vnni(acc, &offsets, row, x, b, 4, block_bytes, pair, offset);
    if (b < blocks) step32_vnni(acc, &offsets, row, x, b, (int)(blocks - b), block_bytes, pair, offset);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + sum8_vnni(_mm256_zextps128_ps256(offsets));
}

static VNNI float dot_q4_0_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_vnni(row, x, blocks, 18, q4_0_pair, 8);
}

static VNNI float dot_q5_0_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_vnni(row, x, blocks, 22, q5_0_pair, 16);
}

static VNNI float dot_q8_0_vnni(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return dot32_vnni(row, x, blocks, 34, q8_0_pair, 128);
}

static int detect_kernel(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return MEDTUNE_Q8_SCALAR;
    const unsigned fma = 1u << 12, f16c = 1u << 29;
    if (!(ecx & bit_OSXSAVE) || (ecx & (fma | f16c)) != (fma | f16c)) return MEDTUNE_Q8_SCALAR;
    unsigned xcr0Low, xcr0High;
    __asm__("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    // The OS saves SSE and AVX state (XCR0 bits 1–2); AVX-512 also needs opmask and ZMM (5–7).
    if ((xcr0Low & 0x6) != 0x6 || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(ebx & bit_AVX2)) {
        return MEDTUNE_Q8_SCALAR;
    }
    const unsigned avx512 = bit_AVX512F | bit_AVX512BW | bit_AVX512VL;
    const unsigned vnni = 1u << 11; // CPUID.7.0:ECX.AVX512_VNNI
    if ((xcr0Low & 0xE6) == 0xE6 && (ebx & avx512) == avx512 && (ecx & vnni)) return MEDTUNE_Q8_AVX512_VNNI;
    return MEDTUNE_Q8_AVX2;
}

int medtune_q8_best_kernel(void) {
    static int best = -1; // computed once; every thread computes the same value
    if (best < 0) best = detect_kernel();
    return best;
}

static row_dot vector_kernel(int kernel, int type) {
    const int vnni = kernel == MEDTUNE_Q8_AVX512_VNNI;
    switch (type) {
    case GGML_Q4_0: return vnni ? dot_q4_0_vnni : dot_q4_0_avx2;
    case GGML_Q5_0: return vnni ? dot_q5_0_vnni : dot_q5_0_avx2;
    case GGML_Q8_0: return vnni ? dot_q8_0_vnni : dot_q8_0_avx2;
    case GGML_Q4_K: return vnni ? dot_q4_K_vnni : dot_q4_K_avx2;
    case GGML_Q5_K: return vnni ? dot_q5_K_vnni : dot_q5_K_avx2;
    default: return vnni ? dot_q6_K_vnni : dot_q6_K_avx2;
    }
}

#else

int medtune_q8_best_kernel(void) { return MEDTUNE_Q8_SCALAR; }

static row_dot vector_kernel(int kernel, int type) { (void)kernel; (void)type; return 0; }

#endif

void medtune_q8_dots(int kernel, int ggml_type, const void *weights, ptrdiff_t row_bytes, ptrdiff_t rows, ptrdiff_t n,
                     medtune_q8_row x, float *y, int accumulate) {
    const int block = medtune_q8_block_size(ggml_type);
    if (block == 0) return;
    const uint8_t *base = weights;
    const row_dot dot = kernel == MEDTUNE_Q8_SCALAR ? 0 : vector_kernel(kernel, ggml_type);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const uint8_t *row = base + r * row_bytes;
        const float value = dot ? dot(row, &x, n / block) : scalar_dot(ggml_type, row, &x, n);
        y[r] = accumulate ? y[r] + value : value;
    }
}
