extension CUDAKernelSource {
    /// The residual connection, Qwen2's gated MLP activation and the q/k/v projection biases.
    public static let elementwise = CUDAKernelSource(name: "elementwise.cu", functions: ["residual_add", "swiglu", "bias_add"], body: """
    // out = a + b; out may be a, for the in-place residual stream.
    extern "C" __global__ void residual_add(const bf16 *a, const bf16 *b, bf16 *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
    }

    // out = silu(gate) * up, silu(g) = g / (1 + e^-g).
    extern "C" __global__ void swiglu(const bf16 *gate, const bf16 *up, bf16 *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
            const float g = bf16_to_float(gate[i]);
            out[i] = float_to_bf16(g / (1.0f + expf(-g)) * bf16_to_float(up[i]));
        }
    }

    // x[r][j] += bias[j] for rows of `cols`, in place.
    extern "C" __global__ void bias_add(bf16 *x, const bf16 *bias, int cols, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) x[i] = float_to_bf16(bf16_to_float(x[i]) + bf16_to_float(bias[i % cols]));
    }
    """)
}
