extension CUDAKernelSource {
    /// Products of a few rows of activations with a bfloat16 weight, for decoding: y = x·Wᵀ
    /// (+ bias) with x [rows × K], W [N × K] as PyTorch's Linear stores it, y [rows × N], rows ≤ 8.
    ///
    /// At one to eight rows a product reads its weight once and does almost no arithmetic, so
    /// what it costs is the weight's bytes. A block owns SKINNY_COLUMNS weight rows and streams
    /// them with all its threads, 16 bytes per thread and load, each load reused for every
    /// activation row (which stay in L1); the threads' float32 sums meet through shared memory.
    /// So many small blocks keep every SM's loads in flight, whatever N and K are. The bias is
    /// added before the one rounding to bfloat16, as cuBLASLt's epilogue adds it. K must be a
    /// multiple of 8 and the buffers 16-byte aligned.
    public static let skinnyProduct = CUDAKernelSource(
        name: "skinny_product.cu", functions: ["skinny_product_1", "skinny_product_2", "skinny_product_4", "skinny_product_8"],
        perStorage: false, body: """
    #define SKINNY_WARPS \(skinnyWarps)
    #define SKINNY_COLUMNS \(skinnyColumns)

    __device__ __forceinline__ void unpack8(uint4 v, float f[8]) {
        const unsigned words[4] = {v.x, v.y, v.z, v.w};
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            f[2 * i] = __uint_as_float(words[i] << 16);
            f[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
        }
    }

    // M: the rows this instance is built for; `rows` ≤ M are real (the rest are neither read nor written).
    template <int M>
    __device__ void skinny_product(const bf16 *x, const bf16 *w, const bf16 *bias, bf16 *y, int rows, int n, int k) {
        __shared__ float partial[SKINNY_WARPS][M * SKINNY_COLUMNS];
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int first = blockIdx.x * SKINNY_COLUMNS;
        float acc[M][SKINNY_COLUMNS];
        #pragma unroll
        for (int m = 0; m < M; m++) {
            #pragma unroll
            for (int c = 0; c < SKINNY_COLUMNS; c++) acc[m][c] = 0.0f;
        }
        #pragma unroll 2
        for (int at = threadIdx.x * 8; at < k; at += SKINNY_WARPS * 32 * 8) {
            float wf[SKINNY_COLUMNS][8];
            #pragma unroll
            for (int c = 0; c < SKINNY_COLUMNS; c++) {
                const uint4 chunk = first + c < n ? *(const uint4 *)(w + (long)(first + c) * k + at) : make_uint4(0, 0, 0, 0);
                unpack8(chunk, wf[c]);
            }
            #pragma unroll
            for (int m = 0; m < M; m++) {
                if (m < rows) {
                    float xf[8];
                    unpack8(*(const uint4 *)(x + (long)m * k + at), xf);
                    #pragma unroll
                    for (int c = 0; c < SKINNY_COLUMNS; c++) {
                        #pragma unroll
                        for (int i = 0; i < 8; i++) acc[m][c] += xf[i] * wf[c][i];
                    }
                }
            }
        }
        #pragma unroll
        for (int m = 0; m < M; m++) {
            #pragma unroll
            for (int c = 0; c < SKINNY_COLUMNS; c++) {
                const float sum = warp_reduce(acc[m][c], Sum());
                if (lane == 0) partial[warp][m * SKINNY_COLUMNS + c] = sum;
            }
        }
        __syncthreads();
        if (threadIdx.x < M * SKINNY_COLUMNS) {
            const int m = threadIdx.x / SKINNY_COLUMNS, c = threadIdx.x % SKINNY_COLUMNS;
            if (m < rows && first + c < n) {
                float sum = 0.0f;
                for (int w = 0; w < SKINNY_WARPS; w++) sum += partial[w][threadIdx.x];
                y[(long)m * n + first + c] = float_to_bf16(sum + (bias ? bf16_to_float(bias[first + c]) : 0.0f));
            }
        }
    }

    #define SKINNY_ENTRY(M) \\
    extern "C" __global__ void __launch_bounds__(SKINNY_WARPS * 32) \\
    skinny_product_##M(const bf16 *x, const bf16 *w, const bf16 *bias, bf16 *y, int rows, int n, int k) { \\
        skinny_product<M>(x, w, bias, y, rows, n, k); \\
    }
    SKINNY_ENTRY(1)
    SKINNY_ENTRY(2)
    SKINNY_ENTRY(4)
    SKINNY_ENTRY(8)
    """)

    /// Warps per block and weight rows per block of `skinnyProduct`, and the most activation rows
    /// it takes.
    static let skinnyWarps = 4, skinnyColumns = 4, skinnyMaxRows = 8
}
