extension CUDAKernelSource {
    /// Causal grouped-query attention of a bfloat16 prompt pass on tensor cores, flash style: the
    /// inputs, layouts, masking and results of `causal_attention_tiled`, with the two products per
    /// key tile (S = Q·Kᵀ, then O += P·V) issued as `mma.sync` m16n8k16 bf16 instructions with
    /// float32 accumulation, and the online softmax kept in registers.
    ///
    /// A block takes FLASH_QUERIES queries of one head (16 per warp) and walks the keys they see in
    /// tiles of FLASH_KEYS. Each warp keeps its queries' A fragments, its output accumulators and
    /// each row's running (max, sum) in registers for the whole walk; the tile's keys (row-major)
    /// and values (transposed, so that P·V reads them as B fragments) are shared by the block.
    /// The fragment layouts are those the PTX ISA defines for m16n8k16: lane = 4·group + t holds
    /// rows `group` and `group + 8`, columns 2t, 2t + 1 (+ 8); a score tile's accumulators are
    /// therefore already the A fragments of P, with no trip through shared memory.
    ///
    /// As in FlashAttention-2 and PyTorch's fused SDPA kernels, the probabilities are rounded to
    /// bfloat16 for the P·V product while the row sums use them unrounded. Scores are scaled by
    /// scale·log2(e) so that exp2 serves for exp. A row that sees no real key (left padding) gets
    /// zeros, as on the CPU. Only head dimensions 64 and 128 have entry points.
    public static let flashAttention = CUDAKernelSource(
        name: "flash_attention.cu", functions: ["flash_attention_64", "flash_attention_128"], perStorage: false, body: """
    #define FLASH_WARPS \(flashAttentionThreads / 32)
    #define FLASH_QUERIES (FLASH_WARPS * 16)
    #define FLASH_KEYS 64

    __device__ __forceinline__ unsigned int pack_bf16x2(float low, float high) {
        return (unsigned int)float_to_bf16(low) | ((unsigned int)float_to_bf16(high) << 16);
    }

    // c[0..3] += A (16×16, four registers of bf16 pairs) · B (16×8, two registers).
    __device__ __forceinline__ void mma_bf16_16x8x16(float *c, const unsigned int *a, unsigned int b0, unsigned int b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }

    __device__ __forceinline__ float quad_max(float v) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
        return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
    }

    __device__ __forceinline__ float quad_sum(float v) {
        v += __shfl_xor_sync(0xffffffffu, v, 1);
        return v + __shfl_xor_sync(0xffffffffu, v, 2);
    }

    // q: [batch × query_length] rows of q_stride elements starting with query_heads × D queries;
    // out: [batch × query_length × query_heads × D]; k, v: [batch × key_capacity × kv_heads × D],
    // the first *past + query_length positions used; key_mask: [batch × key_capacity] or null.
    template <int D>
    __device__ __forceinline__ void flash_attention(const bf16 *q, const bf16 *k, const bf16 *v, const unsigned char *key_mask, bf16 *out,
                                                    const int *past, int query_length, int key_capacity, int query_heads, int kv_heads,
                                                    float scale_log2, int q_stride) {
        // Row strides in bf16, padded so that the fragment loads of a warp hit 32 distinct banks.
        constexpr int KEY_STRIDE = D + 8, VALUE_STRIDE = FLASH_KEYS + 8;
        __shared__ __align__(16) bf16 keys[FLASH_KEYS * KEY_STRIDE];
        __shared__ __align__(16) bf16 values_t[D * VALUE_STRIDE];
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2, t4 = lane & 3;
        const int h = blockIdx.y, b = blockIdx.z, cached = *past;
        const int first = blockIdx.x * FLASH_QUERIES;
        const int row0 = first + warp * 16 + group, row1 = row0 + 8;
        const long kv_stride = (long)kv_heads * D;
        const long kv_offset = (long)b * key_capacity * kv_stride + (long)(h / (query_heads / kv_heads)) * D;

        // The warp's queries as A fragments of S = Q·Kᵀ, one set per 16 dimensions.
        unsigned int qa[D / 16][4];
        {
            const unsigned int *q0 = (const unsigned int *)(q + ((long)b * query_length + min(row0, query_length - 1)) * q_stride + (long)h * D);
            const unsigned int *q1 = (const unsigned int *)(q + ((long)b * query_length + min(row1, query_length - 1)) * q_stride + (long)h * D);
            for (int c = 0; c < D / 16; c++) {
                qa[c][0] = row0 < query_length ? q0[c * 8 + t4] : 0u;
                qa[c][1] = row1 < query_length ? q1[c * 8 + t4] : 0u;
                qa[c][2] = row0 < query_length ? q0[c * 8 + 4 + t4] : 0u;
                qa[c][3] = row1 < query_length ? q1[c * 8 + 4 + t4] : 0u;
            }
        }
        float o[D / 8][4];
        for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
        float max0 = -INFINITY, max1 = -INFINITY, sum0 = 0.0f, sum1 = 0.0f;

        const int key_end = cached + min(first + FLASH_QUERIES, query_length);
        const int warp_key_end = cached + first + warp * 16 + 16;  // keys past it are hidden from every row of the warp
        for (int start = 0; start < key_end; start += FLASH_KEYS) {
            __syncthreads();  // the previous tile is no longer read
            // Keys row by row (16-byte pieces, consecutive threads along a row); values one key per
            // thread along the tile, stored transposed.
            for (int i = threadIdx.x; i < FLASH_KEYS * D / 8; i += FLASH_WARPS * 32) {
                const int j = i / (D / 8), d = i % (D / 8) * 8, s = start + j;
                uint4 piece = make_uint4(0u, 0u, 0u, 0u);
                if (s < key_end) piece = *(const uint4 *)(k + kv_offset + s * kv_stride + d);
                *(uint4 *)(keys + j * KEY_STRIDE + d) = piece;
            }
            for (int i = threadIdx.x; i < FLASH_KEYS * D / 8; i += FLASH_WARPS * 32) {
                const int j = i % FLASH_KEYS, d = i / FLASH_KEYS * 8, s = start + j;
                uint4 piece = make_uint4(0u, 0u, 0u, 0u);
                if (s < key_end) piece = *(const uint4 *)(v + kv_offset + s * kv_stride + d);
                const bf16 *parts = (const bf16 *)&piece;
                for (int e = 0; e < 8; e++) values_t[(d + e) * VALUE_STRIDE + j] = parts[e];
            }
            __syncthreads();
            if (start >= warp_key_end) continue;

            // S for the warp's 16 rows × the tile's keys, eight keys per accumulator set.
            float s[FLASH_KEYS / 8][4];
            for (int n = 0; n < FLASH_KEYS / 8; n++) {
                s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
                const unsigned int *key = (const unsigned int *)(keys + (n * 8 + group) * KEY_STRIDE);
                for (int c = 0; c < D / 16; c++) mma_bf16_16x8x16(s[n], qa[c], key[c * 8 + t4], key[c * 8 + 4 + t4]);
            }
            // Causal and padding masks, scaling, and the rows' new maxima.
            float tile0 = -INFINITY, tile1 = -INFINITY;
            for (int n = 0; n < FLASH_KEYS / 8; n++) {
                for (int e = 0; e < 2; e++) {
                    const int key = start + n * 8 + t4 * 2 + e;
                    const bool real = key < key_end && (!key_mask || key_mask[(long)b * key_capacity + key]);
                    s[n][e] = real && key <= cached + row0 ? s[n][e] * scale_log2 : -INFINITY;
                    s[n][2 + e] = real && key <= cached + row1 ? s[n][2 + e] * scale_log2 : -INFINITY;
                    tile0 = fmaxf(tile0, s[n][e]);
                    tile1 = fmaxf(tile1, s[n][2 + e]);
                }
            }
            const float next0 = fmaxf(max0, quad_max(tile0)), next1 = fmaxf(max1, quad_max(tile1));
            // A row that has seen no real key yet keeps max −∞, weight 0 and its zero sums.
            const float base0 = next0 == -INFINITY ? 0.0f : next0, base1 = next1 == -INFINITY ? 0.0f : next1;
            const float correction0 = exp2f(max0 - base0), correction1 = exp2f(max1 - base1);
            max0 = next0;
            max1 = next1;
            // P as the A fragments of O += P·V: score sets 2c and 2c + 1 hold keys 16c … 16c + 15.
            unsigned int pa[FLASH_KEYS / 16][4];
            float tile_sum0 = 0.0f, tile_sum1 = 0.0f;
            for (int n = 0; n < FLASH_KEYS / 8; n++) {
                const float p0 = exp2f(s[n][0] - base0), p1 = exp2f(s[n][1] - base0);
                const float p2 = exp2f(s[n][2] - base1), p3 = exp2f(s[n][3] - base1);
                tile_sum0 += p0 + p1;
                tile_sum1 += p2 + p3;
                pa[n / 2][(n & 1) * 2] = pack_bf16x2(p0, p1);
                pa[n / 2][(n & 1) * 2 + 1] = pack_bf16x2(p2, p3);
            }
            sum0 = sum0 * correction0 + tile_sum0;
            sum1 = sum1 * correction1 + tile_sum1;
            for (int n = 0; n < D / 8; n++) {
                o[n][0] *= correction0; o[n][1] *= correction0;
                o[n][2] *= correction1; o[n][3] *= correction1;
                const unsigned int *value = (const unsigned int *)(values_t + (n * 8 + group) * VALUE_STRIDE);
                for (int c = 0; c < FLASH_KEYS / 16; c++) mma_bf16_16x8x16(o[n], pa[c], value[c * 8 + t4], value[c * 8 + 4 + t4]);
            }
        }
        // Each lane summed its own columns: the row's sum is the quad's.
        sum0 = quad_sum(sum0);
        sum1 = quad_sum(sum1);
        const float inverse0 = sum0 > 0.0f ? 1.0f / sum0 : 0.0f, inverse1 = sum1 > 0.0f ? 1.0f / sum1 : 0.0f;
        if (row0 < query_length) {
            unsigned int *result = (unsigned int *)(out + (((long)b * query_length + row0) * query_heads + h) * D);
            for (int n = 0; n < D / 8; n++) result[n * 4 + t4] = pack_bf16x2(o[n][0] * inverse0, o[n][1] * inverse0);
        }
        if (row1 < query_length) {
            unsigned int *result = (unsigned int *)(out + (((long)b * query_length + row1) * query_heads + h) * D);
            for (int n = 0; n < D / 8; n++) result[n * 4 + t4] = pack_bf16x2(o[n][2] * inverse1, o[n][3] * inverse1);
        }
    }

    extern "C" __global__ void __launch_bounds__(FLASH_WARPS * 32)
    flash_attention_64(const bf16 *q, const bf16 *k, const bf16 *v, const unsigned char *key_mask, bf16 *out, const int *past,
                       int query_length, int key_capacity, int query_heads, int kv_heads, float scale_log2, int q_stride) {
        flash_attention<64>(q, k, v, key_mask, out, past, query_length, key_capacity, query_heads, kv_heads, scale_log2, q_stride);
    }

    extern "C" __global__ void __launch_bounds__(FLASH_WARPS * 32)
    flash_attention_128(const bf16 *q, const bf16 *k, const bf16 *v, const unsigned char *key_mask, bf16 *out, const int *past,
                        int query_length, int key_capacity, int query_heads, int kv_heads, float scale_log2, int q_stride) {
        flash_attention<128>(q, k, v, key_mask, out, past, query_length, key_capacity, query_heads, kv_heads, scale_log2, q_stride);
    }
    """)

    /// Threads per block of the tensor-core prompt attention (four warps of 16 queries).
    static let flashAttentionThreads = 128
    /// Queries per block of the tensor-core prompt attention.
    public static let flashAttentionQueries = flashAttentionThreads / 32 * 16
    /// Head dimensions with a tensor-core entry point.
    public static let flashAttentionHeadDims: Set<Int> = [64, 128]
}
