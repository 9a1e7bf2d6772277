extension CUDAKernelSource {
    /// Qwen2's RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight, one block per row; the normalised
    /// row is rounded before the weight multiplies it, as `weight * hidden.to(dtype)` does.
    public static let rmsNorm = CUDAKernelSource(name: "rmsnorm.cu", functions: ["rmsnorm", "add_rmsnorm"], body: """
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

    // x = x + residual (rounded, as `residual + output` is), then y = rmsnorm(x): the addition that
    // ends one block of a decoder layer and the norm that starts the next, in one pass per row.
    // Each thread reads back only the elements it wrote.
    extern "C" __global__ void add_rmsnorm(elem *x, const elem *residual, const elem *weight, elem *y, int dim, float eps) {
        elem *row = x + (long)blockIdx.x * dim;
        const elem *addend = residual + (long)blockIdx.x * dim;
        elem *result = y + (long)blockIdx.x * dim;
        float squares = 0.0f;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            const elem sum = store(load(row[j]) + load(addend[j]));
            row[j] = sum;
            squares += load(sum) * load(sum);
        }
        const float scale = rsqrtf(block_reduce(squares, Sum(), 0.0f) / dim + eps);
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            result[j] = store(load(store(load(row[j]) * scale)) * load(weight[j]));
        }
    }
    """)
}
