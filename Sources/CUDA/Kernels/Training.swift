extension CUDAKernelSource {
    /// The loss of the language-model head and LoRA dropout, for training.
    public static let training = CUDAKernelSource(name: "training.cu", functions: ["cross_entropy_rows", "lora_dropout"], body: """
    // One block per row of float32 logits [rows × vocab]: losses[r] = logsumexp(row) − row[label],
    // and grad[r] = grad_scale · (softmax(row) − onehot(label)), as MedtuneCore's
    // `CrossEntropy.lossAndGradient`. A negative label (ignore_index) counts nothing: loss 0 and a
    // zero gradient row. grad may be the logits themselves in float32 storage.
    extern "C" __global__ void cross_entropy_rows(const float *logits, const int *labels, float *losses, elem *grad,
                                                  int vocab, float grad_scale) {
        const long offset = (long)blockIdx.x * vocab;
        const int label = labels[blockIdx.x];
        if (label < 0) {
            for (int j = threadIdx.x; j < vocab; j += blockDim.x) grad[offset + j] = store(0.0f);
            if (threadIdx.x == 0) losses[blockIdx.x] = 0.0f;
            return;
        }
        float maximum = -INFINITY;
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) maximum = fmaxf(maximum, logits[offset + j]);
        maximum = block_reduce(maximum, Max(), -INFINITY);
        const float label_logit = logits[offset + label];
        float sum = 0.0f;
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) sum += expf(logits[offset + j] - maximum);
        sum = block_reduce(sum, Sum(), 0.0f);  // its barriers also order every read above before the writes below
        if (threadIdx.x == 0) losses[blockIdx.x] = logf(sum) + maximum - label_logit;
        const float share = grad_scale / sum;
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
            grad[offset + j] = store(expf(logits[offset + j] - maximum) * share - (j == label ? grad_scale : 0.0f));
        }
    }

    // y = x · keep(i) · scale (y += with accumulate): MedtuneCore's `Dropout`, whose mask is a pure
    // function of (seed, i): a SplitMix64 seeded with seed ^ (i · 0xD1B54A32D192ED03) draws one
    // 53-bit uniform u, and i is kept when u ≥ p, that is when its 53 bits ≥ threshold = ⌈p · 2⁵³⌉.
    extern "C" __global__ void lora_dropout(const elem *x, elem *y, unsigned long long seed, unsigned long long threshold,
                                            float scale, int accumulate, long n) {
        const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        unsigned long long z = (seed ^ ((unsigned long long)i * 0xD1B54A32D192ED03ull)) + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float kept = (z >> 11) >= threshold ? load(x[i]) * scale : 0.0f;
        y[i] = store(accumulate ? load(y[i]) + kept : kept);
    }
    """)
}
