extension CUDAKernelSource {
    /// Qwen2's RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight, one block per row; the normalised
    /// row is rounded before the weight multiplies it, as `weight * hidden.to(dtype)` does.
    public static let rmsNorm = CUDAKernelSource(name: "rmsnorm.cu", functions: ["rmsnorm"], body: """
    extern "C" __global__ void rmsnorm(const elem *x, const elem *weight, elem *y, int dim, float eps) {
        const elem *row = x + (long)blockIdx.x * dim;
        elem *result = y + (long)blockIdx.x * dim;
        float squares = 0.0f;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            const float v = load(row[j]);
            squares += v * v;
        }
        const float scale = rsqrtf(block_reduce(squares, Sum(), 0.0f) / dim + eps);
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            result[j] = store(load(store(load(row[j]) * scale)) * load(weight[j]));
        }
    }
    """)
}
