extension CUDAKernelSource {
    /// Rotary position embedding in Hugging Face's rotate-half form, in place. Each angle is one
    /// float32 product of the token's position and the pair's inverse frequency
    /// (`RotaryEmbedding.inverseFrequencies`), its cos and sin computed here in float32, so no
    /// table crosses from the host; cos and sin are rounded to the storage type and each product
    /// and sum rounded, as `q * cos + rotate_half(q) * sin` in the model's dtype is.
    public static let rotary = CUDAKernelSource(name: "rotary.cu", functions: ["rotary", "rotary_backward"], body: """
    // x: [tokens × heads × head_dim]; element j of a head pairs with j + head_dim/2. One thread a pair.
    extern "C" __global__ void rotary(elem *x, const int *positions, const float *inverse_frequencies,
                                      int tokens, int heads, int head_dim) {
        const int half = head_dim / 2;
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= (long)tokens * heads * half) return;
        const int j = (int)(i % half);
        const long vector = i / half;
        const int token = (int)(vector / heads);
        elem *v = x + vector * head_dim;
        const float angle = (float)positions[token] * inverse_frequencies[j];
        const float c = load(store(cosf(angle))), s = load(store(sinf(angle)));
        const float x1 = load(v[j]), x2 = load(v[j + half]);
        v[j] = store(load(store(x1 * c)) + load(store(-x2 * s)));
        v[j + half] = store(load(store(x2 * c)) + load(store(x1 * s)));
    }

    // The gradient of `rotary`, in place on dx [tokens × heads × head_dim]: the inverse rotation,
    // as MedtuneCore's `RotaryEmbedding.backward`.
    extern "C" __global__ void rotary_backward(elem *dx, const int *positions, const float *inverse_frequencies,
                                               int tokens, int heads, int head_dim) {
        const int half = head_dim / 2;
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= (long)tokens * heads * half) return;
        const int j = (int)(i % half);
        const long vector = i / half;
        elem *v = dx + vector * head_dim;
        const float angle = (float)positions[vector / heads] * inverse_frequencies[j];
        const float c = load(store(cosf(angle))), s = load(store(sinf(angle)));
        const float d1 = load(v[j]), d2 = load(v[j + half]);
        v[j] = store(d1 * c + d2 * s);
        v[j + half] = store(d2 * c - d1 * s);
    }
    """)
}
