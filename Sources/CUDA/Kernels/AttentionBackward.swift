extension CUDAKernelSource {
    /// The backward pass of causal grouped-query attention, flash style: no probabilities are
    /// kept. Each is recomputed as exp(score − lse) from the forward pass's log-sum-exp per query
    /// (`causal_attention_tiled`'s `lse`), with the scores summed in the forward kernel's order,
    /// so they are the forward's probabilities bit for bit. With D_t = dO_t·O_t and
    /// dS = P ∘ (dO·Vᵀ − D): dQ = scale · dS·K, dK = scale · dSᵀ·Q, dV = Pᵀ·dO, the keys' gradients
    /// summed over the query heads that share them.
    ///
    /// Layouts are those of the training pass (`CausalAttention` with keyCapacity == keyLength ==
    /// queryLength): q, out, dO, dq [batch × length × query_heads × head_dim]; k, v, dk, dv [batch
    /// × length × kv_heads × head_dim]; lse and delta float32 [batch × length × query_heads];
    /// key_mask uint8 [batch × length] or null. Head dimensions up to 128, multiples of 32.
    ///
    /// `attention_backward_dq` gives a block BACKWARD_WARPS queries of one head (a warp each) and
    /// walks their keys in tiles of 32, a lane per key; `attention_backward_dkdv` gives a block
    /// BACKWARD_WARPS keys of one KV head (a warp each) and walks the queries that see them, a
    /// lane per query. Neither writes another block's rows, so there are no atomics.
    public static let attentionBackward = CUDAKernelSource(
        name: "attention_backward.cu", functions: ["attention_backward_delta", "attention_backward_dq", "attention_backward_dkdv"], body: """
    #define BACKWARD_WARPS \(attentionBackwardWarps)
    #define BACKWARD_TILE 32
    #define BACKWARD_MAX_HEAD_DIM \(attentionBackwardMaxHeadDim)

    // delta[i] = dO_i · O_i for each query vector i (a warp each).
    extern "C" __global__ void attention_backward_delta(const elem *out, const elem *d_out, float *delta, int head_dim, long vectors) {
        const long vector = ((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
        const int lane = threadIdx.x & 31;
        if (vector >= vectors) return;  // the same for the whole warp
        float sum = 0.0f;
        for (int d = lane; d < head_dim; d += 32) sum += load(d_out[vector * head_dim + d]) * load(out[vector * head_dim + d]);
        sum = warp_reduce(sum, Sum());
        if (lane == 0) delta[vector] = sum;
    }

    extern "C" __global__ void __launch_bounds__(BACKWARD_WARPS * 32)
    attention_backward_dq(const elem *q, const elem *k, const elem *v, const elem *d_out, const float *lse, const float *delta,
                          const unsigned char *key_mask, elem *dq, int length, int query_heads, int kv_heads, int head_dim, float scale) {
        __shared__ float queries[BACKWARD_WARPS][BACKWARD_MAX_HEAD_DIM], grads[BACKWARD_WARPS][BACKWARD_MAX_HEAD_DIM];
        __shared__ float keys[BACKWARD_TILE][BACKWARD_MAX_HEAD_DIM + 1], values[BACKWARD_TILE][BACKWARD_MAX_HEAD_DIM + 1];
        const int first = blockIdx.x * BACKWARD_WARPS, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, per_lane = head_dim / 32;
        const long q_stride = (long)query_heads * head_dim, kv_stride = (long)kv_heads * head_dim;
        const long kv_offset = (long)b * length * kv_stride + (long)(h / (query_heads / kv_heads)) * head_dim;

        for (int i = threadIdx.x; i < BACKWARD_WARPS * head_dim; i += blockDim.x) {
            const int r = i / head_dim, d = i % head_dim, t = first + r;
            const long at = ((long)b * length + t) * q_stride + (long)h * head_dim + d;
            queries[r][d] = t < length ? load(q[at]) * scale : 0.0f;
            grads[r][d] = t < length ? load(d_out[at]) : 0.0f;
        }
        const int t = first + warp;
        const long row = ((long)b * length + t) * query_heads + h;
        const float row_lse = t < length ? lse[row] : -INFINITY, row_delta = t < length ? delta[row] : 0.0f;
        float acc[BACKWARD_MAX_HEAD_DIM / 32];
        for (int i = 0; i < BACKWARD_MAX_HEAD_DIM / 32; i++) acc[i] = 0.0f;
        const int key_end = min(first + BACKWARD_WARPS, length);
        for (int start = 0; start < key_end; start += BACKWARD_TILE) {
            __syncthreads();  // the previous tile (and, the first time, the queries) fully written or read
            for (int i = threadIdx.x; i < BACKWARD_TILE * head_dim; i += blockDim.x) {
                const int j = i / head_dim, d = i % head_dim, s = start + j;
                const bool inside = s < key_end;
                keys[j][d] = inside ? load(k[kv_offset + s * kv_stride + d]) : 0.0f;
                values[j][d] = inside ? load(v[kv_offset + s * kv_stride + d]) : 0.0f;
            }
            __syncthreads();
            if (t >= length || row_lse == -INFINITY) continue;  // the same for the whole warp
            const int s = start + lane;
            const bool seen = s <= t && (!key_mask || key_mask[(long)b * length + s]);
            float ds = 0.0f;
            if (seen) {
                float score = 0.0f, dp = 0.0f;
                for (int d = 0; d < head_dim; d++) score += queries[warp][d] * keys[lane][d];
                for (int d = 0; d < head_dim; d++) dp += grads[warp][d] * values[lane][d];
                ds = expf(score - row_lse) * (dp - row_delta);
            }
            for (int j = 0; j < BACKWARD_TILE; j++) {
                const float w = __shfl_sync(0xffffffffu, ds, j);
                for (int i = 0; i < per_lane; i++) acc[i] += w * keys[j][lane + 32 * i];
            }
        }
        if (t >= length) return;
        elem *result = dq + ((long)b * length + t) * q_stride + (long)h * head_dim;
        for (int i = 0; i < per_lane; i++) result[lane + 32 * i] = store(acc[i] * scale);
    }

    extern "C" __global__ void __launch_bounds__(BACKWARD_WARPS * 32)
    attention_backward_dkdv(const elem *q, const elem *k, const elem *v, const elem *d_out, const float *lse, const float *delta,
                            const unsigned char *key_mask, elem *dk, elem *dv, int length, int query_heads, int kv_heads,
                            int head_dim, float scale) {
        __shared__ float queries[BACKWARD_TILE][BACKWARD_MAX_HEAD_DIM + 1], grads[BACKWARD_TILE][BACKWARD_MAX_HEAD_DIM + 1];
        __shared__ float keys[BACKWARD_WARPS][BACKWARD_MAX_HEAD_DIM], values[BACKWARD_WARPS][BACKWARD_MAX_HEAD_DIM];
        __shared__ float tile_lse[BACKWARD_TILE], tile_delta[BACKWARD_TILE];
        const int first = blockIdx.x * BACKWARD_WARPS, kv_head = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, per_lane = head_dim / 32;
        const int group = query_heads / kv_heads;
        const long q_stride = (long)query_heads * head_dim, kv_stride = (long)kv_heads * head_dim;
        const long kv_offset = (long)b * length * kv_stride + (long)kv_head * head_dim;

        for (int i = threadIdx.x; i < BACKWARD_WARPS * head_dim; i += blockDim.x) {
            const int r = i / head_dim, d = i % head_dim, s = first + r;
            keys[r][d] = s < length ? load(k[kv_offset + s * kv_stride + d]) : 0.0f;
            values[r][d] = s < length ? load(v[kv_offset + s * kv_stride + d]) : 0.0f;
        }
        const int s = first + warp;
        const bool real = s < length && (!key_mask || key_mask[(long)b * length + s]);
        float dk_acc[BACKWARD_MAX_HEAD_DIM / 32], dv_acc[BACKWARD_MAX_HEAD_DIM / 32];
        for (int i = 0; i < BACKWARD_MAX_HEAD_DIM / 32; i++) { dk_acc[i] = 0.0f; dv_acc[i] = 0.0f; }
        for (int g = 0; g < group; g++) {
            const int h = kv_head * group + g;
            for (int start = first; start < length; start += BACKWARD_TILE) {
                __syncthreads();  // the previous tile (and, the first time, the keys) fully written or read
                for (int i = threadIdx.x; i < BACKWARD_TILE * head_dim; i += blockDim.x) {
                    const int j = i / head_dim, d = i % head_dim, t = start + j;
                    const long at = ((long)b * length + t) * q_stride + (long)h * head_dim + d;
                    queries[j][d] = t < length ? load(q[at]) * scale : 0.0f;
                    grads[j][d] = t < length ? load(d_out[at]) : 0.0f;
                }
                if (threadIdx.x < BACKWARD_TILE) {
                    const int t = start + threadIdx.x;
                    const long row = ((long)b * length + t) * query_heads + h;
                    tile_lse[threadIdx.x] = t < length ? lse[row] : -INFINITY;
                    tile_delta[threadIdx.x] = t < length ? delta[row] : 0.0f;
                }
                __syncthreads();
                if (!real) continue;  // the same for the whole warp
                const int t = start + lane;
                float p = 0.0f, ds = 0.0f;
                if (t < length && t >= s && tile_lse[lane] != -INFINITY) {
                    float score = 0.0f, dp = 0.0f;
                    for (int d = 0; d < head_dim; d++) score += queries[lane][d] * keys[warp][d];
                    for (int d = 0; d < head_dim; d++) dp += grads[lane][d] * values[warp][d];
                    p = expf(score - tile_lse[lane]);
                    ds = p * (dp - tile_delta[lane]);
                }
                for (int j = 0; j < BACKWARD_TILE; j++) {
                    const float pj = __shfl_sync(0xffffffffu, p, j), dsj = __shfl_sync(0xffffffffu, ds, j);
                    for (int i = 0; i < per_lane; i++) {
                        dv_acc[i] += pj * grads[j][lane + 32 * i];
                        dk_acc[i] += dsj * queries[j][lane + 32 * i];  // the queries carry the scale
                    }
                }
            }
        }
        if (s >= length) return;
        const long at = ((long)b * length + s) * kv_stride + (long)kv_head * head_dim;
        for (int i = 0; i < per_lane; i++) {
            dk[at + lane + 32 * i] = store(dk_acc[i]);
            dv[at + lane + 32 * i] = store(dv_acc[i]);
        }
    }
    """)

    /// Warps (and so queries or keys) per block of the attention backward kernels, and their
    /// largest head dimension: their float32 tiles must stay within a block's 48 KiB.
    static let attentionBackwardWarps = 8
    static let attentionBackwardMaxHeadDim = 128
}
