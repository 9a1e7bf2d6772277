extension CUDAKernelSource {
    /// Products of a few rows with a weight matrix: y[m × n] = alpha · x[m × k] · w[n × k]ᵀ
    /// (+ bias) (+ y). At decoding sizes (one row per sequence) the weight is read once and the
    /// work is the reading: what matters is streaming it at the memory's bandwidth, which a
    /// general GEMM tuned for tiles does not do at m ≤ 8.
    ///
    /// One warp computes `GEMV_ROWS` outputs of every x row; each lane reads 16 bytes of each of its
    /// weight rows at a time (coalesced over the warp), x comes through the L1 cache, and the sums
    /// stay in float32 until one rounding at the end (bias and accumulation included).
    public static let gemv = CUDAKernelSource(name: "gemv.cu", functions: ["gemv"], body: """
    #define GEMV_MAX_M \(gemvMaxRows)
    #define GEMV_ROWS 2
    #define GEMV_WARPS \(gemvThreads / 32)
    // Elements in 16 bytes.
    #define GEMV_VECTOR (16 / (int)sizeof(elem))

    __device__ __forceinline__ void load_vector(const elem *p, float *out) {
    #ifdef MEDTUNE_STORE_F32
        const float4 v = *reinterpret_cast<const float4 *>(p);
        out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
    #else
        const uint4 v = *reinterpret_cast<const uint4 *>(p);
        const unsigned int words[4] = {v.x, v.y, v.z, v.w};
        for (int i = 0; i < 4; i++) {
            out[2 * i] = __uint_as_float(words[i] << 16);
            out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
        }
    #endif
    }

    // x: [m × k], w: [n × k], bias: [n] or null; y: [m × n], float32 when out_float, else elem.
    // k must be a multiple of GEMV_VECTOR (rows 16-byte aligned) and m at most GEMV_MAX_M.
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32)
    gemv(const elem *x, const elem *w, const elem *bias, void *y, int m, int n, int k, float alpha, int accumulate, int out_float) {
        const int lane = threadIdx.x & 31;
        const int first = (blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5)) * GEMV_ROWS;
        if (first >= n) return;
        float acc[GEMV_MAX_M][GEMV_ROWS];
        for (int i = 0; i < GEMV_MAX_M; i++)
            for (int r = 0; r < GEMV_ROWS; r++) acc[i][r] = 0.0f;
        #pragma unroll 4
        for (int j = lane * GEMV_VECTOR; j < k; j += 32 * GEMV_VECTOR) {
            float weights[GEMV_ROWS][GEMV_VECTOR];
            for (int r = 0; r < GEMV_ROWS; r++) {
                if (first + r < n) load_vector(w + (long)(first + r) * k + j, weights[r]);
                else for (int e = 0; e < GEMV_VECTOR; e++) weights[r][e] = 0.0f;
            }
            for (int i = 0; i < GEMV_MAX_M; i++) {
                if (i >= m) break;
                float inputs[GEMV_VECTOR];
                load_vector(x + (long)i * k + j, inputs);
                for (int r = 0; r < GEMV_ROWS; r++)
                    for (int e = 0; e < GEMV_VECTOR; e++) acc[i][r] += inputs[e] * weights[r][e];
            }
        }
        for (int i = 0; i < GEMV_MAX_M; i++) {
            if (i >= m) break;
            for (int r = 0; r < GEMV_ROWS; r++) {
                const float sum = warp_reduce(acc[i][r], Sum());
                if (lane != 0 || first + r >= n) continue;
                const long index = (long)i * n + first + r;
                const float value = alpha * sum + (bias ? load(bias[first + r]) : 0.0f);
                if (out_float) {
                    float *out = (float *)y;
                    out[index] = accumulate ? out[index] + value : value;
                } else {
                    elem *out = (elem *)y;
                    out[index] = store(accumulate ? load(out[index]) + value : value);
                }
            }
        }
    }
    """)

    /// The most x rows one `gemv` launch takes, and its threads per block, written into the
    /// source so that the launcher and the kernel cannot disagree.
    public static let gemvMaxRows = 8
    static let gemvThreads = 128
    /// Outputs of one block: warps × rows per warp.
    static let gemvOutputsPerBlock = gemvThreads / 32 * 2
}
