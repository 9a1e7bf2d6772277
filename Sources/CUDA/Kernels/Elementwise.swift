extension CUDAKernelSource {
    /// The residual connection, Qwen2's gated MLP activation (and its gradient) and LoRA's scaled update.
    public static let elementwise = CUDAKernelSource(name: "elementwise.cu", functions: ["residual_add", "swiglu", "swiglu_backward", "scaled_add"], body: """
    // out = a + b; out may be a, for the in-place residual stream.
    extern "C" __global__ void residual_add(const elem *a, const elem *b, elem *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = store(load(a[i]) + load(b[i]));
    }

    // out = silu(gate) * up, silu(g) = g / (1 + e^-g), rounded after the activation and after the
    // product as `act_fn(gate_proj(x)) * up_proj(x)` is.
    extern "C" __global__ void swiglu(const elem *gate, const elem *up, elem *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
            const float g = load(gate[i]);
            out[i] = store(load(store(g / (1.0f + expf(-g)))) * load(up[i]));
        }
    }

    // Given d = ∂loss/∂(silu(gate)·up), gate and up are replaced by their gradients, as
    // MedtuneCore's `SwiGLU.backward`: d·g·σ(g) for up, d·up·σ(g)·(1 + g·(1 − σ(g))) for gate.
    extern "C" __global__ void swiglu_backward(const elem *d, elem *gate, elem *up, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
            const float g = load(gate[i]), u = load(up[i]), dh = load(d[i]);
            const float sigma = 1.0f / (1.0f + expf(-g));
            up[i] = store(dh * g * sigma);
            gate[i] = store(dh * u * sigma * (1.0f + g * (1.0f - sigma)));
        }
    }

    // out = out + update * scale, rounded after the scaling and after the sum: a LoRA update as
    // PEFT adds it (`result + lora_B(lora_A(x)) * scaling`).
    extern "C" __global__ void scaled_add(elem *out, const elem *update, float scale, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = store(load(out[i]) + load(store(load(update[i]) * scale)));
    }
    """)
}
