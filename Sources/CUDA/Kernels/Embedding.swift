extension CUDAKernelSource {
    /// Token embedding lookup: one block per token copies its row of the table.
    public static let embedding = CUDAKernelSource(name: "embedding.cu", functions: ["embedding_gather"], body: """
    // out[t] = table[ids[t]]. Ids come from the tokenizer, within the vocabulary; one out of range
    // reads nothing and writes a NaN row, so such a fault cannot pass unnoticed.
    extern "C" __global__ void embedding_gather(const int *ids, const elem *table, elem *out, int dim, int vocab) {
        const int id = ids[blockIdx.x];
        elem *row = out + (long)blockIdx.x * dim;
        const bool valid = id >= 0 && id < vocab;
        const elem *source = table + (long)(valid ? id : 0) * dim;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) row[j] = valid ? source[j] : ELEM_NAN;
    }
    """)
}
