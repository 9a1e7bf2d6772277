extension CUDAKernelSource {
    /// The residual connection and Qwen2's gated MLP activation.
    public static let elementwise = CUDAKernelSource(name: "elementwise.cu", functions: ["residual_add", "swiglu"], body: """
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
    """)
}
