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
    public static let attention = CUDAKernelSource(name: "attention.cu", functions: ["causal_attention", "causal_attention_tiled", "kv_cache_append"], body: """
    #define ATTENTION_WARPS \(attentionThreads / 32)
    #define MAX_HEAD_DIM \(attentionMaxHeadDim)
    #define DIMS_PER_LANE (MAX_HEAD_DIM / 32)

    // q, out: [batch × query_length × query_heads × head_dim]; k, v: [batch × key_capacity ×
    // kv_heads × head_dim], first key_length = *past + query_length positions used; key_mask:
    // [batch × key_capacity], nonzero for real keys, or null. Query t sees keys 0 … *past + t. A
    // query whose every visible key is masked (left padding) gets zeros, as on the CPU. lse, when
    // not null, receives each query's log-sum-exp of its scaled scores (float32 [batch ×
    // query_length × query_heads]; −∞ for a query that sees no key): the training forward keeps it.
    extern "C" __global__ void __launch_bounds__(ATTENTION_WARPS * 32)
    causal_attention(const elem *q, const elem *k, const elem *v, const unsigned char *key_mask, elem *out,
                     float *lse, const int *past, int query_length, int key_capacity, int query_heads, int kv_heads,
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
            if (lse && threadIdx.x == 0) lse[q_offset / head_dim] = -INFINITY;
            return;
        }
        float total_sum = 0.0f;
        for (int w = 0; w < ATTENTION_WARPS; w++) total_sum += warp_sum[w] * expf(warp_max[w] - total_max);
        if (lse && threadIdx.x == 0) lse[q_offset / head_dim] = total_max + logf(total_sum);
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float o = 0.0f;
            for (int w = 0; w < ATTENTION_WARPS; w++) o += warp_acc[w][d] * expf(warp_max[w] - total_max);
            result[d] = store(o / total_sum);
        }
    }

    // The same attention for a prompt pass: a block takes TILE_QUERIES queries of one head and
    // walks the keys they see in tiles of TILE_KEYS held in shared memory (as float32), so each
    // key and value is read from memory once per tile of queries instead of once per query. A
    // warp owns QUERIES_PER_WARP queries; lane j scores key j of the tile against a query read by
    // broadcast, the tile's softmax weights are merged into a running (max, sum) per query, and
    // each lane accumulates the weighted values of its dimensions lane, lane + 32, … Head
    // dimensions up to TILED_MAX_HEAD_DIM (the shared tiles are sized for it). Training passes
    // `lse` (float32 [batch × query_length × query_heads], else null) to keep each query's log-sum-exp
    // of its scaled scores, from which the backward pass recomputes the probabilities.
    #define TILE_KEYS 32
    #define QUERIES_PER_WARP 2
    #define TILE_QUERIES (ATTENTION_WARPS * QUERIES_PER_WARP)
    #define TILED_MAX_HEAD_DIM \(tiledAttentionMaxHeadDim)

    extern "C" __global__ void __launch_bounds__(ATTENTION_WARPS * 32)
    causal_attention_tiled(const elem *q, const elem *k, const elem *v, const unsigned char *key_mask, elem *out,
                           float *lse, const int *past, int query_length, int key_capacity, int query_heads, int kv_heads,
                           int head_dim, float scale) {
        __shared__ float queries[TILE_QUERIES][TILED_MAX_HEAD_DIM];
        __shared__ float keys[TILE_KEYS][TILED_MAX_HEAD_DIM + 1];  // +1: lane j reads row j without bank conflicts
        __shared__ float values[TILE_KEYS][TILED_MAX_HEAD_DIM];
        const int first = blockIdx.x * TILE_QUERIES, h = blockIdx.y, b = blockIdx.z;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int per_lane = head_dim / 32, cached = *past;
        const long kv_stride = (long)kv_heads * head_dim;
        const long kv_offset = (long)b * key_capacity * kv_stride + (long)(h / (query_heads / kv_heads)) * head_dim;

        for (int i = threadIdx.x; i < TILE_QUERIES * head_dim; i += blockDim.x) {
            const int r = i / head_dim, d = i % head_dim, t = first + r;
            queries[r][d] = t < query_length ? load(q[(((long)b * query_length + t) * query_heads + h) * head_dim + d]) * scale : 0.0f;
        }
        float running_max[QUERIES_PER_WARP], running_sum[QUERIES_PER_WARP], acc[QUERIES_PER_WARP][TILED_MAX_HEAD_DIM / 32];
        for (int qi = 0; qi < QUERIES_PER_WARP; qi++) {
            running_max[qi] = -INFINITY;
            running_sum[qi] = 0.0f;
            for (int i = 0; i < TILED_MAX_HEAD_DIM / 32; i++) acc[qi][i] = 0.0f;
        }
        const int last_query = min(first + TILE_QUERIES, query_length) - 1;
        const int key_end = cached + last_query + 1;
        for (int start = 0; start < key_end; start += TILE_KEYS) {
            __syncthreads();  // the previous tile (and, the first time, the queries) fully written or read
            for (int i = threadIdx.x; i < TILE_KEYS * head_dim; i += blockDim.x) {
                const int j = i / head_dim, d = i % head_dim, s = start + j;
                const bool inside = s < key_end;
                keys[j][d] = inside ? load(k[kv_offset + s * kv_stride + d]) : 0.0f;
                values[j][d] = inside ? load(v[kv_offset + s * kv_stride + d]) : 0.0f;
            }
            __syncthreads();
            for (int qi = 0; qi < QUERIES_PER_WARP; qi++) {
                const int r = warp * QUERIES_PER_WARP + qi, t = first + r;
                if (t >= query_length) continue;  // the same for the whole warp
                const int s = start + lane;
                const bool seen = s <= cached + t && (!key_mask || key_mask[(long)b * key_capacity + s]);
                float score = -INFINITY;
                if (seen) {
                    score = 0.0f;
                    for (int d = 0; d < head_dim; d++) score += queries[r][d] * keys[lane][d];
                }
                const float tile_max = warp_reduce(score, Max());
                if (tile_max == -INFINITY) continue;  // nothing visible in this tile; the same for the whole warp
                const float next_max = fmaxf(running_max[qi], tile_max);
                const float weight = seen ? expf(score - next_max) : 0.0f;
                const float correction = expf(running_max[qi] - next_max);
                running_sum[qi] = running_sum[qi] * correction + warp_reduce(weight, Sum());
                for (int i = 0; i < per_lane; i++) acc[qi][i] *= correction;
                for (int j = 0; j < TILE_KEYS; j++) {
                    const float w = __shfl_sync(0xffffffffu, weight, j);
                    for (int i = 0; i < per_lane; i++) acc[qi][i] += w * values[j][lane + 32 * i];
                }
                running_max[qi] = next_max;
            }
        }
        for (int qi = 0; qi < QUERIES_PER_WARP; qi++) {
            const int t = first + warp * QUERIES_PER_WARP + qi;
            if (t >= query_length) continue;
            elem *result = out + (((long)b * query_length + t) * query_heads + h) * head_dim;
            const bool none = running_max[qi] == -INFINITY;
            for (int i = 0; i < per_lane; i++) result[lane + 32 * i] = store(none ? 0.0f : acc[qi][i] / running_sum[qi]);
            if (lse && lane == 0) lse[((long)b * query_length + t) * query_heads + h] = none ? -INFINITY : running_max[qi] + logf(running_sum[qi]);
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
    /// The tiled prompt kernel's largest head dimension: its three shared tiles (float32) must
    /// stay within the 48 KiB a block may have without opting in.
    static let tiledAttentionMaxHeadDim = 128
    /// Queries per block of the tiled kernel (warps × queries per warp).
    static let tiledAttentionQueries = attentionThreads / 32 * 2
}
