extension CUDAKernelSource {
    /// Rotary position embedding in Hugging Face's rotate-half form, in place. Each angle is one
    /// float32 product of the token's position and the pair's inverse frequency
    /// (`RotaryEmbedding.inverseFrequencies`), its cos and sin computed here in float32, so no
    /// table crosses from the host; cos and sin are rounded to the storage type and each product
    /// and sum rounded, as `q * cos + rotate_half(q) * sin` in the model's dtype is.
    public static let rotary = CUDAKernelSource(name: "rotary.cu", functions: ["rotary"], body: """
    // x: [tokens × heads × head_dim]; element j of a head pairs with j + head_dim/2. One thread a
    // pair. direction −1 turns the other way: the gradient of the rotation (training's backward).
    extern "C" __global__ void rotary(elem *x, const int *positions, const float *inverse_frequencies,
                                      int tokens, int heads, int head_dim, float direction) {
        const int half = head_dim / 2;
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= (long)tokens * heads * half) return;
        const int j = (int)(i % half);
        const long vector = i / half;
        const int token = (int)(vector / heads);
        elem *v = x + vector * head_dim;
        const float angle = (float)positions[token] * inverse_frequencies[j];
        const float c = load(store(cosf(angle))), s = direction * load(store(sinf(angle)));
        const float x1 = load(v[j]), x2 = load(v[j + half]);
        v[j] = store(load(store(x1 * c)) + load(store(-x2 * s)));
        v[j + half] = store(load(store(x2 * c)) + load(store(x1 * s)));
    }
    """)
}
