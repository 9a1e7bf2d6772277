extension CUDAKernelSource {
    /// Qwen2's RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight, one block per row; the normalised
    /// row is rounded before the weight multiplies it, as `weight * hidden.to(dtype)` does.
    /// Training keeps each row's reciprocal RMS for the backward pass.
    public static let rmsNorm = CUDAKernelSource(name: "rmsnorm.cu", functions: ["rmsnorm", "rmsnorm_backward"], body: """
    // rstd (float32 [rows]) receives each row's reciprocal RMS, or is null.
    extern "C" __global__ void rmsnorm(const elem *x, const elem *weight, elem *y, float *rstd, int dim, float eps) {
        const elem *row = x + (long)blockIdx.x * dim;
        elem *result = y + (long)blockIdx.x * dim;
        float squares = 0.0f;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            const float v = load(row[j]);
            squares += v * v;
        }
        const float scale = rsqrtf(block_reduce(squares, Sum(), 0.0f) / dim + eps);
        if (rstd && threadIdx.x == 0) rstd[blockIdx.x] = scale;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            result[j] = store(load(store(load(row[j]) * scale)) * load(weight[j]));
        }
    }

    // dx += ∂/∂x of the norm given dy, as MedtuneCore's `RMSNorm.backward`: with g = dy · weight
    // and s the row's reciprocal RMS, dx += g·s − x·s³·(g·x)/dim. dx holds the gradient that
    // reaches x by the residual path.
    extern "C" __global__ void rmsnorm_backward(const elem *dy, const elem *x, const elem *weight, const float *rstd,
                                                elem *dx, int dim) {
        const long offset = (long)blockIdx.x * dim;
        const float s = rstd[blockIdx.x];
        float dot = 0.0f;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) dot += load(dy[offset + j]) * load(weight[j]) * load(x[offset + j]);
        const float c = block_reduce(dot, Sum(), 0.0f) * s * s * s / dim;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            const long i = offset + j;
            dx[i] = store(load(dx[i]) + load(dy[i]) * load(weight[j]) * s - load(x[i]) * c);
        }
    }
    """)
}
