extension CUDAKernelSource {
    /// Causal grouped-query attention with a key padding mask, in the layouts of MedtuneCore's
    /// `CausalAttention`: prefill (queryLength == keyLength) and decoding against a KV cache
    /// (queryLength == 1, keyCapacity > keyLength) are the same kernel.
    ///
    /// A simple, correct version: one block per (query row, head, batch row); its warps take keys
    /// in turn, each keeping an online softmax (running max, sum and weighted values) in float32,
    /// and the warps' partial results are merged at the end. Scores are never stored, so any key
    /// length fits. Head dimensions up to 256, multiples of 32 (Qwen2 uses 64 and 128).
    ///
    /// `kv_cache_append` writes a pass's new keys or values after the cached positions.
    ///
    /// The number of cached positions is read from device memory (`past`), not passed by value,
    /// so that one recorded decoding step (a CUDA graph) serves every position.
    public static let attention = CUDAKernelSource(name: "attention.cu", functions: ["causal_attention", "kv_cache_append"], body: """
    #define ATTENTION_WARPS \(attentionThreads / 32)
    #define MAX_HEAD_DIM \(attentionMaxHeadDim)
    #define DIMS_PER_LANE (MAX_HEAD_DIM / 32)

    // q, out: [batch × query_length × query_heads × head_dim]; k, v: [batch × key_capacity ×
    // kv_heads × head_dim], first key_length = *past + query_length positions used; key_mask:
    // [batch × key_capacity], nonzero for real keys, or null. Query t sees keys 0 … *past + t. A
    // query whose every visible key is masked (left padding) gets zeros, as on the CPU.
    extern "C" __global__ void __launch_bounds__(ATTENTION_WARPS * 32)
    causal_attention(const elem *q, const elem *k, const elem *v, const unsigned char *key_mask, elem *out,
                     const int *past, int query_length, int key_capacity, int query_heads, int kv_heads,
                     int head_dim, float scale) {
        const int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int per_lane = head_dim / 32;
        const long q_offset = (((long)b * query_length + t) * query_heads + h) * head_dim;
        const long kv_stride = (long)kv_heads * head_dim;
        const long kv_offset = (long)b * key_capacity * kv_stride + (long)(h / (query_heads / kv_heads)) * head_dim;

        // Lane l holds dimensions l, l + 32, …: the query (pre-scaled) and the weighted values.
        float query[DIMS_PER_LANE], acc[DIMS_PER_LANE];
        for (int i = 0; i < DIMS_PER_LANE; i++) {
            query[i] = i < per_lane ? load(q[q_offset + lane + 32 * i]) * scale : 0.0f;
            acc[i] = 0.0f;
        }
        float running_max = -INFINITY, running_sum = 0.0f;
        const int visible = *past + t + 1;
        for (int s = warp; s < visible; s += ATTENTION_WARPS) {
            if (key_mask && !key_mask[(long)b * key_capacity + s]) continue;
            const elem *key = k + kv_offset + s * kv_stride, *value = v + kv_offset + s * kv_stride;
            float score = 0.0f;
            for (int i = 0; i < per_lane; i++) score += query[i] * load(key[lane + 32 * i]);
            score = warp_reduce(score, Sum());
            const float next_max = fmaxf(running_max, score);
            const float correction = expf(running_max - next_max), weight = expf(score - next_max);
            running_sum = running_sum * correction + weight;
            for (int i = 0; i < per_lane; i++) acc[i] = acc[i] * correction + weight * load(value[lane + 32 * i]);
            running_max = next_max;
        }

        __shared__ float warp_max[ATTENTION_WARPS], warp_sum[ATTENTION_WARPS];
        __shared__ float warp_acc[ATTENTION_WARPS][MAX_HEAD_DIM];
        if (lane == 0) { warp_max[warp] = running_max; warp_sum[warp] = running_sum; }
        for (int i = 0; i < per_lane; i++) warp_acc[warp][lane + 32 * i] = acc[i];
        __syncthreads();
        float total_max = -INFINITY;
        for (int w = 0; w < ATTENTION_WARPS; w++) total_max = fmaxf(total_max, warp_max[w]);
        elem *result = out + q_offset;
        if (total_max == -INFINITY) {
            for (int d = threadIdx.x; d < head_dim; d += blockDim.x) result[d] = 0;
            return;
        }
        float total_sum = 0.0f;
        for (int w = 0; w < ATTENTION_WARPS; w++) total_sum += warp_sum[w] * expf(warp_max[w] - total_max);
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float o = 0.0f;
            for (int w = 0; w < ATTENTION_WARPS; w++) o += warp_acc[w][d] * expf(warp_max[w] - total_max);
            result[d] = store(o / total_sum);
        }
    }

    // cache[b][*start + t][:] = fresh[b][t][:]: fresh is [batch × count × row], cache is
    // [batch × capacity × row]; n = batch · count · row.
    extern "C" __global__ void kv_cache_append(const elem *fresh, elem *cache, int count, int capacity, const int *start, int row, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        const long vector = i / row;
        const long b = vector / count, t = vector % count;
        cache[(b * capacity + *start + t) * row + i % row] = fresh[i];
    }
    """)

    /// Threads per attention block (eight warps, so that a decoding step's few blocks still
    /// spread a long cache over many warps) and the largest head dimension, written into
    /// the source so that the launcher and the kernel cannot disagree.
    static let attentionThreads = 256
    static let attentionMaxHeadDim = 256
}
