extension CUDAKernelSource {
    /// Qwen2's RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight, one block per row.
    public static let rmsNorm = CUDAKernelSource(name: "rmsnorm.cu", functions: ["rmsnorm"], body: """
    extern "C" __global__ void rmsnorm(const bf16 *x, const bf16 *weight, bf16 *y, int dim, float eps) {
        const bf16 *row = x + (long)blockIdx.x * dim;
        bf16 *result = y + (long)blockIdx.x * dim;
        float squares = 0.0f;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            const float v = bf16_to_float(row[j]);
            squares += v * v;
        }
        const float scale = rsqrtf(block_reduce(squares, Sum(), 0.0f) / dim + eps);
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            result[j] = float_to_bf16(bf16_to_float(row[j]) * scale * bf16_to_float(weight[j]));
        }
    }
    """)
}
