extension CUDAKernelSource {
    /// The residual connection, Qwen2's gated MLP activation and the q/k/v projection biases.
    public static let elementwise = CUDAKernelSource(name: "elementwise.cu", functions: ["residual_add", "swiglu", "bias_add"], body: """
    // out = a + b; out may be a, for the in-place residual stream.
    extern "C" __global__ void residual_add(const elem *a, const elem *b, elem *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = store(load(a[i]) + load(b[i]));
    }

    // out = silu(gate) * up, silu(g) = g / (1 + e^-g).
    extern "C" __global__ void swiglu(const elem *gate, const elem *up, elem *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
            const float g = load(gate[i]);
            out[i] = store(g / (1.0f + expf(-g)) * load(up[i]));
        }
    }

    // x[r][j] += bias[j] for rows of `cols`, in place.
    extern "C" __global__ void bias_add(elem *x, const elem *bias, int cols, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) x[i] = store(load(x[i]) + load(bias[i % cols]));
    }
    """)
}
