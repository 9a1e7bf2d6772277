// Helpers of q8_dot.c's vector kernels, included once per instruction set with Q8_TARGET and
// Q8_NAME defined (see there). No include guard: it is meant to be compiled twice.

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
