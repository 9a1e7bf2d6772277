extension CUDAKernelSource {
    /// bfloat16 ↔ float32, element by element: for logits and checks read back in float32.
    public static let conversion = CUDAKernelSource(name: "conversion.cu", functions: ["bf16_to_f32", "f32_to_bf16"], perStorage: false, body: """
    extern "C" __global__ void bf16_to_f32(const bf16 *in, float *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = bf16_to_float(in[i]);
    }

    extern "C" __global__ void f32_to_bf16(const float *in, bf16 *out, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = float_to_bf16(in[i]);
    }
    """)
}
