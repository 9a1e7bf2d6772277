extension CUDAKernelSource {
    /// Token embedding lookup: one block per token copies its row of the table. The same gather
    /// picks rows of activations (the rows a head scores), and its inverse puts rows back.
    public static let embedding = CUDAKernelSource(name: "embedding.cu", functions: ["embedding_gather", "rows_scatter"], body: """
    // out[t] = table[ids[t]]. Ids come from the tokenizer, within the vocabulary; one out of range
    // reads nothing and writes a NaN row, so such a fault cannot pass unnoticed.
    extern "C" __global__ void embedding_gather(const int *ids, const elem *table, elem *out, int dim, int vocab) {
        const int id = ids[blockIdx.x];
        elem *row = out + (long)blockIdx.x * dim;
        const bool valid = id >= 0 && id < vocab;
        const elem *source = table + (long)(valid ? id : 0) * dim;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) row[j] = valid ? source[j] : ELEM_NAN;
    }

    // out[ids[t]] = rows[t], one block per row t; the ids are distinct and within out.
    extern "C" __global__ void rows_scatter(const int *ids, const elem *rows, elem *out, int dim) {
        const elem *source = rows + (long)blockIdx.x * dim;
        elem *row = out + (long)ids[blockIdx.x] * dim;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) row[j] = source[j];
    }
    """)
}
