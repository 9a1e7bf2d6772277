// The K-format vector kernels of q8_dot.c, included once per instruction set with Q8_TARGET,
// Q8_NAME and SCALED_ADD defined (see there). Each returns Σ w·x over a row of `blocks` weight
// blocks. No include guard: it is meant to be compiled twice.

static INLINE Q8_TARGET float Q8_NAME(sum8)(__m256 v) {
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

static INLINE Q8_TARGET float Q8_NAME(half)(const uint8_t *p) {
    uint16_t bits;
    memcpy(&bits, p, sizeof bits);
    return _cvtsh_ss(bits);
}

/// Q4_K and Q5_K: eight sub-blocks of 32 with 6-bit scales and mins; the quants of sub-blocks
/// 2p and 2p+1 are the low and high nibbles of bytes 32p…32p+31 (plus, for Q5_K, bits 2p and
/// 2p+1 of the 32 high-bit bytes as their fifth bit). The mins enter through the activation sums.
static INLINE Q8_TARGET float Q8_NAME(dot_k4)(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks, int fifth_bit) {
    const int block_bytes = fifth_bit ? 176 : 144;
    const __m256i low = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const uint8_t *block = row + b * block_bytes, *nibbles = block + (fifth_bit ? 48 : 16);
        const int8_t *a = x->values + 256 * b;
        const int16_t *sums = x->sums + 16 * b;
        uint8_t scales[8], mins[8];
        unpack_scales_mins(block + 4, scales, mins);
        // Σ mins[s] · (sums of sub-block s): the pairwise sums of the sixteen group sums.
        const __m128i subSums = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)sums), _mm_loadu_si128((const __m128i *)(sums + 8)));
        __m128i weighted = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins)), subSums);
        weighted = _mm_add_epi32(weighted, _mm_shuffle_epi32(weighted, 0x4E));
        weighted = _mm_add_epi32(weighted, _mm_shuffle_epi32(weighted, 0xB1));
        const int offset = _mm_cvtsi128_si32(weighted);

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
            dot = SCALED_ADD(dot, first, _mm256_loadu_si256((const __m256i *)(a + 64 * pair)), _mm256_set1_epi16(scales[2 * pair]));
            dot = SCALED_ADD(dot, second, _mm256_loadu_si256((const __m256i *)(a + 64 * pair + 32)), _mm256_set1_epi16(scales[2 * pair + 1]));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(Q8_NAME(half)(block) * x->scales[b]), acc);
        offsets += Q8_NAME(half)(block + 2) * x->scales[b] * (float)offset;
    }
    return Q8_NAME(sum8)(acc) - offsets;
}

static Q8_TARGET float Q8_NAME(dot_q4_K)(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return Q8_NAME(dot_k4)(row, x, blocks, 0);
}

static Q8_TARGET float Q8_NAME(dot_q5_K)(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
    return Q8_NAME(dot_k4)(row, x, blocks, 1);
}

/// Q6_K: sixteen groups of 16 with signed 8-bit scales; per half of 128 elements, 64 bytes of
/// low nibbles and 32 of 2-bit high parts (see q8_dot.c `unpack_k`). The −32 of every quant
/// enters as 32 · Σ scale[g] · sum[g], subtracted in int32.
static Q8_TARGET float Q8_NAME(dot_q6_K)(const uint8_t *row, const medtune_q8_row *x, ptrdiff_t blocks) {
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
                dot = SCALED_ADD(dot, quarters[quarter], _mm256_loadu_si256((const __m256i *)(a + 128 * half + 32 * quarter)), pairScales);
            }
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(Q8_NAME(half)(block + 208) * x->scales[b]), acc);
    }
    return Q8_NAME(sum8)(acc);
}
