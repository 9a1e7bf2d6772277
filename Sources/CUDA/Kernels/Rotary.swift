extension CUDAKernelSource {
    /// Rotary position embedding in Hugging Face's rotate-half form, in place, with float32
    /// cos/sin tables [tokens × headDim/2] as `RotaryEmbedding.table` makes them.
    public static let rotary = CUDAKernelSource(name: "rotary.cu", functions: ["rotary"], body: """
    // x: [tokens × heads × head_dim]; element j of a head pairs with j + head_dim/2. One thread a pair.
    extern "C" __global__ void rotary(elem *x, const float *cos_table, const float *sin_table,
                                      int tokens, int heads, int head_dim) {
        const int half = head_dim / 2;
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= (long)tokens * heads * half) return;
        const int j = (int)(i % half);
        const long vector = i / half;
        const int token = (int)(vector / heads);
        elem *v = x + vector * head_dim;
        const float c = cos_table[(long)token * half + j], s = sin_table[(long)token * half + j];
        const float x1 = load(v[j]), x2 = load(v[j + half]);
        v[j] = store(x1 * c - x2 * s);
        v[j + half] = store(x2 * c + x1 * s);
    }
    """)
}
