extension CUDAKernelSource {
    /// Causal grouped-query attention on the tensor cores, for bfloat16 storage and head
    /// dimensions 64 and 128 (Qwen2's): the prompt-pass forward and the training backward, in the
    /// layouts and with the masking of `attention` and `attentionBackward`, whose CUDA-core kernels
    /// remain for float32 storage (exact checks), other head dimensions and decoding.
    ///
    /// The products are `mma.sync` m16n8k16 (bfloat16 in, float32 accumulation); a warp owns 16
    /// rows of queries (forward, dQ) or keys (dK, dV). As in FlashAttention-2, the probabilities
    /// and their gradients are rounded to bfloat16 only to enter the next product; the softmax
    /// statistics stay float32. Scores are never stored: the forward keeps each query's
    /// log-sum-exp (natural log, as the CUDA-core kernels), and the backward recomputes the
    /// probabilities from it.
    ///
    /// The forward takes 64 queries of one head per block and walks their visible keys in tiles
    /// of 64 staged in shared memory. `dq` does the same for query gradients (tiles of 32 keys).
    /// `dkdv` takes 64 keys and one query head per block, walks the queries that see them in
    /// tiles of 16, and writes float32 partial gradients per query head; `kv_grad_sum` adds the
    /// heads that share a KV head, in a fixed order, so the result is deterministic.
    public static let attentionTensorCore = CUDAKernelSource(
        name: "attention_mma.cu",
        functions: ["attention_forward_mma_64", "attention_forward_mma_128", "attention_dq_mma_64", "attention_dq_mma_128",
                    "attention_dkdv_mma_64", "attention_dkdv_mma_128", "attention_kv_grad_sum"],
        perStorage: false, body: """
    #define MMA_WARPS 4
    #define ROWS_PER_BLOCK 64   // 16 per warp
    #define FORWARD_KEYS 64
    #define DQ_KEYS 32
    #define DKDV_QUERIES 16
    #define PAD 8               // bfloat16 of padding per shared row: fragment reads and ldmatrix rows fall in distinct banks
    #define LOG2E 1.4426950408889634f
    #define LN2 0.6931471805599453f
    #define FULL_MASK 0xffffffffu

    // D = A·B + D on one warp, A 16×16 and B 16×8 bfloat16, D float32. With g = lane / 4 and
    // c = lane % 4: a0 = A[g][2c, 2c+1], a1 = A[g+8][2c, 2c+1], a2 = A[g][2c+8, 2c+9],
    // a3 = A[g+8][2c+8, 2c+9]; b0 = B[2c, 2c+1][g], b1 = B[2c+8, 2c+9][g]; d0, d1 = D[g][2c, 2c+1],
    // d2, d3 = D[g+8][2c, 2c+1]. A register holds two bfloat16, the first in its low half.
    __device__ __forceinline__ void mma(float d[4], const unsigned a[4], unsigned b0, unsigned b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }

    __device__ __forceinline__ unsigned pack(float first, float second) {
        return (unsigned)float_to_bf16(first) | ((unsigned)float_to_bf16(second) << 16);
    }

    // Two neighbouring bfloat16 of a row (at an even index of a row of even length) as one register.
    __device__ __forceinline__ unsigned pair(const bf16 *p) { return *(const unsigned *)p; }

    // b0, b1 of B[k][n] = M[row + k][col + n] (k < 16, n < 8) for M row-major in shared memory
    // with `stride`: the pairs run down M's columns, which ldmatrix.trans gathers; lanes 0–15
    // give the addresses of rows row … row + 15 (16-byte aligned).
    __device__ __forceinline__ void b_down_rows(const bf16 *m, int stride, int row, int col, int lane, unsigned &b0, unsigned &b1) {
        const bf16 *p = m + (row + (lane & 15)) * stride + col;
        unsigned address;
        asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(p));
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\\n" : "=r"(b0), "=r"(b1) : "r"(address) : "memory");
    }

    // b0, b1 of B[k][n] = M[row + n][col + k] for M row-major (the pairs run along M's rows).
    __device__ __forceinline__ void b_along_rows(const bf16 *m, int stride, int row, int col, int lane, unsigned &b0, unsigned &b1) {
        const bf16 *p = m + (row + (lane >> 2)) * stride + col + 2 * (lane & 3);
        b0 = pair(p);
        b1 = pair(p + 8);
    }

    // The A fragment of A[r][k] = M[row + r][col + k] for M row-major.
    __device__ __forceinline__ void a_rows(const bf16 *m, int stride, int row, int col, int lane, unsigned a[4]) {
        const bf16 *p = m + (row + (lane >> 2)) * stride + col + 2 * (lane & 3);
        a[0] = pair(p);
        a[1] = pair(p + 8 * stride);
        a[2] = pair(p + 8);
        a[3] = pair(p + 8 * stride + 8);
    }

    // scores[16 × COLUMNS] = A[16 × D] · Mᵀ for the warp's A fragments and M [COLUMNS × D]
    // row-major in shared memory (rows `row` on): a tile of scores Q·Kᵀ, or of dO·Vᵀ.
    template <int D, int COLUMNS>
    __device__ __forceinline__ void product_transposed(float scores[COLUMNS / 8][4], const unsigned a[D / 16][4], const bf16 *m,
                                                       int stride, int lane) {
        #pragma unroll
        for (int n = 0; n < COLUMNS / 8; n++) {
            scores[n][0] = scores[n][1] = scores[n][2] = scores[n][3] = 0.0f;
            #pragma unroll
            for (int s = 0; s < D / 16; s++) {
                unsigned b0, b1;
                b_along_rows(m, stride, n * 8, s * 16, lane, b0, b1);
                mma(scores[n], a[s], b0, b1);
            }
        }
    }

    // acc[16 × D] += A[16 × ROWS] · M for the warp's A fragments and M [ROWS × D] row-major in
    // shared memory: probabilities times values, or score gradients times keys.
    template <int D, int ROWS>
    __device__ __forceinline__ void accumulate_product(float acc[D / 8][4], const unsigned a[ROWS / 16][4], const bf16 *m, int stride,
                                                       int lane) {
        #pragma unroll
        for (int kk = 0; kk < ROWS / 16; kk++) {
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                unsigned b0, b1;
                b_down_rows(m, stride, kk * 16, n * 8, lane, b0, b1);
                mma(acc[n], a[kk], b0, b1);
            }
        }
    }

    // Copies `rows` rows of D bfloat16 (row r at source + r · source_stride) into shared rows of
    // D + PAD, 16 bytes per thread and step; rows at or past `valid` become zeros.
    template <int D>
    __device__ __forceinline__ void stage(bf16 *tile, const bf16 *source, long source_stride, int rows, int valid) {
        for (int i = threadIdx.x; i < rows * (D / 8); i += blockDim.x) {
            const int r = i / (D / 8), d = (i % (D / 8)) * 8;
            uint4 chunk = make_uint4(0, 0, 0, 0);
            if (r < valid) chunk = *(const uint4 *)(source + r * source_stride + d);
            *(uint4 *)(tile + r * (D + PAD) + d) = chunk;
        }
    }

    // Stages `rows` keys and values from position `start` (zeros from `end` on) and whether each
    // is a real key: before `end` and not masked (`mask_row`: the batch row's key mask, or null).
    template <int D>
    __device__ __forceinline__ void stage_keys(bf16 *keys, bf16 *values, unsigned char *key_real, const bf16 *k, const bf16 *v,
                                               long kv_stride, int start, int rows, int end, const unsigned char *mask_row) {
        stage<D>(keys, k + start * kv_stride, kv_stride, rows, end - start);
        stage<D>(values, v + start * kv_stride, kv_stride, rows, end - start);
        if (threadIdx.x < rows) {
            const int s = start + threadIdx.x;
            key_real[threadIdx.x] = s < end && (!mask_row || mask_row[s]);
        }
    }

    // The A fragments of a warp's 16 rows of D from global memory (zeros past `length`).
    template <int D>
    __device__ __forceinline__ void load_rows(unsigned a[D / 16][4], const bf16 *row_g, const bf16 *row_g8, bool has_g, bool has_g8, int c) {
        #pragma unroll
        for (int s = 0; s < D / 16; s++) {
            a[s][0] = has_g ? pair(row_g + s * 16 + 2 * c) : 0u;
            a[s][1] = has_g8 ? pair(row_g8 + s * 16 + 2 * c) : 0u;
            a[s][2] = has_g ? pair(row_g + s * 16 + 8 + 2 * c) : 0u;
            a[s][3] = has_g8 ? pair(row_g8 + s * 16 + 8 + 2 * c) : 0u;
        }
    }

    __device__ __forceinline__ float quad_max(float v) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, 1));
        return fmaxf(v, __shfl_xor_sync(FULL_MASK, v, 2));
    }

    __device__ __forceinline__ float quad_sum(float v) {
        v += __shfl_xor_sync(FULL_MASK, v, 1);
        return v + __shfl_xor_sync(FULL_MASK, v, 2);
    }

    // Forward: q, out [batch × query_length × query_heads × D]; k, v [batch × key_capacity ×
    // kv_heads × D], the first *past + query_length positions used; key_mask [batch ×
    // key_capacity] or null; lse float32 [batch × query_length × query_heads] or null.
    template <int D>
    __device__ void attention_forward(bf16 *tiles, const bf16 *q, const bf16 *k, const bf16 *v, const unsigned char *key_mask,
                                      bf16 *out, float *lse, const int *past, int query_length, int key_capacity, int query_heads,
                                      int kv_heads, float scale) {
        const int stride = D + PAD;
        bf16 *keys = tiles, *values = tiles + FORWARD_KEYS * stride;
        unsigned char *key_real = (unsigned char *)(values + FORWARD_KEYS * stride);
        const int first = blockIdx.x * ROWS_PER_BLOCK, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c = lane & 3;
        const int cached = *past;
        const long q_stride = (long)query_heads * D, kv_stride = (long)kv_heads * D;
        const long kv_offset = (long)b * key_capacity * kv_stride + (long)(h / (query_heads / kv_heads)) * D;
        const int row0 = first + warp * 16, t0 = row0 + g, t1 = row0 + g + 8;
        const bool has0 = t0 < query_length, has1 = t1 < query_length;
        unsigned qa[D / 16][4];
        load_rows<D>(qa, q + ((long)b * query_length + t0) * q_stride + (long)h * D,
                     q + ((long)b * query_length + t1) * q_stride + (long)h * D, has0, has1, c);

        float o[D / 8][4];
        #pragma unroll
        for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
        // Running maxima (log2 units) and this thread's share of the running sums, rows g and g + 8.
        float max0 = -INFINITY, max1 = -INFINITY, sum0 = 0.0f, sum1 = 0.0f;
        const float scale2 = scale * LOG2E;
        const int key_end = cached + min(first + ROWS_PER_BLOCK, query_length);
        for (int start = 0; start < key_end; start += FORWARD_KEYS) {
            __syncthreads();  // the previous tile fully read
            stage_keys<D>(keys, values, key_real, k + kv_offset, v + kv_offset, kv_stride, start, FORWARD_KEYS, key_end,
                          key_mask ? key_mask + (long)b * key_capacity : nullptr);
            __syncthreads();
            if (row0 >= query_length || start > cached + row0 + 15) continue;  // no key of the tile visible to this warp

            float score[FORWARD_KEYS / 8][4];
            product_transposed<D, FORWARD_KEYS>(score, qa, keys, stride, lane);
            float tile0 = -INFINITY, tile1 = -INFINITY;
            #pragma unroll
            for (int n = 0; n < FORWARD_KEYS / 8; n++) {
                #pragma unroll
                for (int j = 0; j < 2; j++) {
                    const int key = n * 8 + 2 * c + j, s = start + key;
                    score[n][j] = key_real[key] && s <= cached + t0 ? score[n][j] * scale2 : -INFINITY;
                    score[n][2 + j] = key_real[key] && s <= cached + t1 ? score[n][2 + j] * scale2 : -INFINITY;
                    tile0 = fmaxf(tile0, score[n][j]);
                    tile1 = fmaxf(tile1, score[n][2 + j]);
                }
            }
            const float next0 = fmaxf(max0, quad_max(tile0)), next1 = fmaxf(max1, quad_max(tile1));
            // A row that has seen no key yet keeps a maximum of −∞; its weights are exp2(−∞) = 0.
            const float base0 = next0 == -INFINITY ? 0.0f : next0, base1 = next1 == -INFINITY ? 0.0f : next1;
            const float correction0 = exp2f(max0 - base0), correction1 = exp2f(max1 - base1);
            max0 = next0;
            max1 = next1;
            sum0 *= correction0;
            sum1 *= correction1;
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                o[n][0] *= correction0; o[n][1] *= correction0;
                o[n][2] *= correction1; o[n][3] *= correction1;
            }
            unsigned pa[FORWARD_KEYS / 16][4];
            #pragma unroll
            for (int n = 0; n < FORWARD_KEYS / 8; n++) {
                const float p00 = exp2f(score[n][0] - base0), p01 = exp2f(score[n][1] - base0);
                const float p10 = exp2f(score[n][2] - base1), p11 = exp2f(score[n][3] - base1);
                sum0 += p00 + p01;
                sum1 += p10 + p11;
                pa[n / 2][(n & 1) * 2] = pack(p00, p01);
                pa[n / 2][(n & 1) * 2 + 1] = pack(p10, p11);
            }
            accumulate_product<D, FORWARD_KEYS>(o, pa, values, stride, lane);
        }
        sum0 = quad_sum(sum0);
        sum1 = quad_sum(sum1);
        #pragma unroll
        for (int half = 0; half < 2; half++) {
            const int t = half ? t1 : t0;
            if (t >= query_length) continue;
            const float maximum = half ? max1 : max0, sum = half ? sum1 : sum0;
            const bool none = maximum == -INFINITY;  // every visible key masked: zeros, as on the CPU
            const long row = ((long)b * query_length + t) * query_heads + h;
            bf16 *result = out + row * D + 2 * c;
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                *(unsigned *)(result + n * 8) = none ? 0u : pack(o[n][2 * half] / sum, o[n][2 * half + 1] / sum);
            }
            if (lse && c == 0) lse[row] = none ? -INFINITY : (maximum + log2f(sum)) * LN2;
        }
    }

    // Backward, query side: dq = scale · Σ_keys dS · K with dS = P ∘ (dO·Vᵀ − delta). Layouts of
    // the training pass (key_capacity == length, nothing cached).
    template <int D>
    __device__ void attention_dq(bf16 *tiles, const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *d_out, const float *lse,
                                 const float *delta, const unsigned char *key_mask, bf16 *dq, int length, int query_heads,
                                 int kv_heads, float scale) {
        const int stride = D + PAD;
        bf16 *keys = tiles, *values = tiles + DQ_KEYS * stride;
        unsigned char *key_real = (unsigned char *)(values + DQ_KEYS * stride);
        const int first = blockIdx.x * ROWS_PER_BLOCK, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c = lane & 3;
        const long kv_stride = (long)kv_heads * D;
        const long kv_offset = (long)b * length * kv_stride + (long)(h / (query_heads / kv_heads)) * D;
        const int row0 = first + warp * 16, t0 = row0 + g, t1 = row0 + g + 8;
        const bool has0 = t0 < length, has1 = t1 < length;
        const long r0 = ((long)b * length + t0) * query_heads + h, r1 = ((long)b * length + t1) * query_heads + h;
        unsigned qa[D / 16][4], da[D / 16][4];
        load_rows<D>(qa, q + r0 * D, q + r1 * D, has0, has1, c);
        load_rows<D>(da, d_out + r0 * D, d_out + r1 * D, has0, has1, c);
        // A row without a visible key (lse −∞) has no gradient: it sees nothing below.
        const float lse0 = has0 ? lse[r0] * LOG2E : -INFINITY, lse1 = has1 ? lse[r1] * LOG2E : -INFINITY;
        const float delta0 = has0 ? delta[r0] : 0.0f, delta1 = has1 ? delta[r1] : 0.0f;
        const bool live0 = has0 && lse0 != -INFINITY, live1 = has1 && lse1 != -INFINITY;
        const float scale2 = scale * LOG2E;

        float acc[D / 8][4];
        #pragma unroll
        for (int n = 0; n < D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
        const int key_end = min(first + ROWS_PER_BLOCK, length);
        for (int start = 0; start < key_end; start += DQ_KEYS) {
            __syncthreads();  // the previous tile fully read
            stage_keys<D>(keys, values, key_real, k + kv_offset, v + kv_offset, kv_stride, start, DQ_KEYS, key_end,
                          key_mask ? key_mask + (long)b * length : nullptr);
            __syncthreads();
            if (row0 >= length || start > row0 + 15) continue;

            float score[DQ_KEYS / 8][4], dp[DQ_KEYS / 8][4];
            product_transposed<D, DQ_KEYS>(score, qa, keys, stride, lane);
            product_transposed<D, DQ_KEYS>(dp, da, values, stride, lane);
            unsigned dsa[DQ_KEYS / 16][4];
            #pragma unroll
            for (int n = 0; n < DQ_KEYS / 8; n++) {
                float ds[4];
                #pragma unroll
                for (int j = 0; j < 2; j++) {
                    const int key = n * 8 + 2 * c + j, s = start + key;
                    const float p0 = live0 && key_real[key] && s <= t0 ? exp2f(score[n][j] * scale2 - lse0) : 0.0f;
                    const float p1 = live1 && key_real[key] && s <= t1 ? exp2f(score[n][2 + j] * scale2 - lse1) : 0.0f;
                    ds[j] = p0 * (dp[n][j] - delta0);
                    ds[2 + j] = p1 * (dp[n][2 + j] - delta1);
                }
                dsa[n / 2][(n & 1) * 2] = pack(ds[0], ds[1]);
                dsa[n / 2][(n & 1) * 2 + 1] = pack(ds[2], ds[3]);
            }
            accumulate_product<D, DQ_KEYS>(acc, dsa, keys, stride, lane);
        }
        #pragma unroll
        for (int half = 0; half < 2; half++) {
            if (!(half ? has1 : has0)) continue;
            bf16 *result = dq + (half ? r1 : r0) * D + 2 * c;
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                *(unsigned *)(result + n * 8) = pack(acc[n][2 * half] * scale, acc[n][2 * half + 1] * scale);
            }
        }
    }

    // Backward, key side, for one query head h: dk_part = scale · Σ_queries dSᵀ·Q and dv_part =
    // Σ_queries Pᵀ·dO, float32 [batch × length × query_heads × D] (the query layout).
    template <int D>
    __device__ void attention_dkdv(bf16 *tiles, const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *d_out, const float *lse,
                                   const float *delta, const unsigned char *key_mask, float *dk_part, float *dv_part, int length,
                                   int query_heads, int kv_heads, float scale) {
        const int stride = D + PAD;
        bf16 *keys = tiles, *values = keys + ROWS_PER_BLOCK * stride;
        bf16 *queries = values + ROWS_PER_BLOCK * stride, *grads = queries + DKDV_QUERIES * stride;
        float *tile_lse = (float *)(grads + DKDV_QUERIES * stride), *tile_delta = tile_lse + DKDV_QUERIES;
        const int first = blockIdx.x * ROWS_PER_BLOCK, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c = lane & 3;
        const long q_stride = (long)query_heads * D, kv_stride = (long)kv_heads * D;
        const long kv_offset = (long)b * length * kv_stride + (long)(h / (query_heads / kv_heads)) * D;
        stage<D>(keys, k + kv_offset + first * kv_stride, kv_stride, ROWS_PER_BLOCK, length - first);
        stage<D>(values, v + kv_offset + first * kv_stride, kv_stride, ROWS_PER_BLOCK, length - first);
        // This thread's two keys, rows g and g + 8 of the warp's 16.
        const int row0 = first + warp * 16, s0 = row0 + g, s1 = row0 + g + 8;
        const bool real0 = s0 < length && (!key_mask || key_mask[(long)b * length + s0]);
        const bool real1 = s1 < length && (!key_mask || key_mask[(long)b * length + s1]);
        const float scale2 = scale * LOG2E;

        float dk_acc[D / 8][4], dv_acc[D / 8][4];
        #pragma unroll
        for (int n = 0; n < D / 8; n++) {
            dk_acc[n][0] = dk_acc[n][1] = dk_acc[n][2] = dk_acc[n][3] = 0.0f;
            dv_acc[n][0] = dv_acc[n][1] = dv_acc[n][2] = dv_acc[n][3] = 0.0f;
        }
        for (int start = first; start < length; start += DKDV_QUERIES) {
            __syncthreads();  // the previous tile fully read (and, the first time, the keys staged)
            const long at = ((long)b * length + start) * q_stride + (long)h * D;
            stage<D>(queries, q + at, q_stride, DKDV_QUERIES, length - start);
            stage<D>(grads, d_out + at, q_stride, DKDV_QUERIES, length - start);
            if (threadIdx.x < DKDV_QUERIES) {
                const int t = start + threadIdx.x;
                const long row = ((long)b * length + t) * query_heads + h;
                tile_lse[threadIdx.x] = t < length ? lse[row] : -INFINITY;
                tile_delta[threadIdx.x] = t < length ? delta[row] : 0.0f;
            }
            __syncthreads();
            if (start + DKDV_QUERIES - 1 < row0 || row0 >= length) continue;  // every query of the tile before this warp's keys

            // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ for the warp's 16 keys × the tile's 16 queries.
            float st[2][4], dpt[2][4];
            #pragma unroll
            for (int n = 0; n < 2; n++) st[n][0] = st[n][1] = st[n][2] = st[n][3] = dpt[n][0] = dpt[n][1] = dpt[n][2] = dpt[n][3] = 0.0f;
            #pragma unroll
            for (int s = 0; s < D / 16; s++) {
                unsigned ka[4], va[4];
                a_rows(keys, stride, warp * 16, s * 16, lane, ka);
                a_rows(values, stride, warp * 16, s * 16, lane, va);
                #pragma unroll
                for (int n = 0; n < 2; n++) {
                    unsigned b0, b1;
                    b_along_rows(queries, stride, n * 8, s * 16, lane, b0, b1);
                    mma(st[n], ka, b0, b1);
                    b_along_rows(grads, stride, n * 8, s * 16, lane, b0, b1);
                    mma(dpt[n], va, b0, b1);
                }
            }
            unsigned pa[4], dsa[4];
            #pragma unroll
            for (int n = 0; n < 2; n++) {
                float p[4], ds[4];
                #pragma unroll
                for (int j = 0; j < 2; j++) {
                    const int column = n * 8 + 2 * c + j, t = start + column;
                    const float row_lse = tile_lse[column];
                    const bool live = row_lse != -INFINITY;  // false past the end too
                    p[j] = live && real0 && t >= s0 ? exp2f(st[n][j] * scale2 - row_lse * LOG2E) : 0.0f;
                    p[2 + j] = live && real1 && t >= s1 ? exp2f(st[n][2 + j] * scale2 - row_lse * LOG2E) : 0.0f;
                    ds[j] = p[j] * (dpt[n][j] - tile_delta[column]);
                    ds[2 + j] = p[2 + j] * (dpt[n][2 + j] - tile_delta[column]);
                }
                pa[n * 2] = pack(p[0], p[1]);
                pa[n * 2 + 1] = pack(p[2], p[3]);
                dsa[n * 2] = pack(ds[0], ds[1]);
                dsa[n * 2 + 1] = pack(ds[2], ds[3]);
            }
            // dV += Pᵀ·dO and dK += dSᵀ·Q over the tile's 16 queries.
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                unsigned b0, b1;
                b_down_rows(grads, stride, 0, n * 8, lane, b0, b1);
                mma(dv_acc[n], pa, b0, b1);
                b_down_rows(queries, stride, 0, n * 8, lane, b0, b1);
                mma(dk_acc[n], dsa, b0, b1);
            }
        }
        #pragma unroll
        for (int half = 0; half < 2; half++) {
            const int s = half ? s1 : s0;
            if (s >= length) continue;
            const long at = (((long)b * length + s) * query_heads + h) * D + 2 * c;
            #pragma unroll
            for (int n = 0; n < D / 8; n++) {
                dk_part[at + n * 8] = dk_acc[n][2 * half] * scale;
                dk_part[at + n * 8 + 1] = dk_acc[n][2 * half + 1] * scale;
                dv_part[at + n * 8] = dv_acc[n][2 * half];
                dv_part[at + n * 8 + 1] = dv_acc[n][2 * half + 1];
            }
        }
    }

    #define FORWARD_SHARED(D) (2 * FORWARD_KEYS * ((D) + PAD) * 2 + FORWARD_KEYS)
    #define DQ_SHARED(D) (2 * DQ_KEYS * ((D) + PAD) * 2 + DQ_KEYS)
    #define DKDV_SHARED(D) (2 * (ROWS_PER_BLOCK + DKDV_QUERIES) * ((D) + PAD) * 2 + 2 * DKDV_QUERIES * 4)

    #define ATTENTION_ENTRY_POINTS(D) \\
    extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32) \\
    attention_forward_mma_##D(const bf16 *q, const bf16 *k, const bf16 *v, const unsigned char *key_mask, bf16 *out, float *lse, \\
                              const int *past, int query_length, int key_capacity, int query_heads, int kv_heads, float scale) { \\
        __shared__ __align__(16) bf16 tiles[FORWARD_SHARED(D) / 2]; \\
        attention_forward<D>(tiles, q, k, v, key_mask, out, lse, past, query_length, key_capacity, query_heads, kv_heads, scale); \\
    } \\
    extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32) \\
    attention_dq_mma_##D(const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *d_out, const float *lse, const float *delta, \\
                         const unsigned char *key_mask, bf16 *dq, int length, int query_heads, int kv_heads, float scale) { \\
        __shared__ __align__(16) bf16 tiles[DQ_SHARED(D) / 2]; \\
        attention_dq<D>(tiles, q, k, v, d_out, lse, delta, key_mask, dq, length, query_heads, kv_heads, scale); \\
    } \\
    extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32) \\
    attention_dkdv_mma_##D(const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *d_out, const float *lse, const float *delta, \\
                           const unsigned char *key_mask, float *dk_part, float *dv_part, int length, int query_heads, int kv_heads, \\
                           float scale) { \\
        __shared__ __align__(16) bf16 tiles[DKDV_SHARED(D) / 2]; \\
        attention_dkdv<D>(tiles, q, k, v, d_out, lse, delta, key_mask, dk_part, dv_part, length, query_heads, kv_heads, scale); \\
    }

    ATTENTION_ENTRY_POINTS(64)
    ATTENTION_ENTRY_POINTS(128)

    // dk, dv [rows × kv_heads × head_dim] = the sums of the partials of the query heads that
    // share each KV head, in head order; n = rows · kv_heads · head_dim.
    extern "C" __global__ void attention_kv_grad_sum(const float *dk_part, const float *dv_part, bf16 *dk, bf16 *dv, int query_heads,
                                                     int kv_heads, int head_dim, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        const int group = query_heads / kv_heads, d = i % head_dim;
        const long row = i / ((long)kv_heads * head_dim);
        const int kv_head = (i / head_dim) % kv_heads;
        const long first = (row * query_heads + (long)kv_head * group) * head_dim + d;
        float sum_k = 0.0f, sum_v = 0.0f;
        for (int j = 0; j < group; j++) {
            sum_k += dk_part[first + (long)j * head_dim];
            sum_v += dv_part[first + (long)j * head_dim];
        }
        dk[i] = float_to_bf16(sum_k);
        dv[i] = float_to_bf16(sum_v);
    }
    """)

    /// Head dimensions the tensor-core attention kernels are instantiated for.
    static let tensorCoreHeadDims: Set<Int> = [64, 128]
    /// Query rows (forward, dQ) or key rows (dK, dV) per block, and threads per block.
    static let tensorCoreRowsPerBlock = 64, tensorCoreThreads = 128
}
