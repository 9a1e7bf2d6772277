extension CUDAKernelSource {
    /// Next-token helpers over float32 logits [rows × cols]: greedy choice and softmax.
    public static let sampling = CUDAKernelSource(name: "sampling.cu", functions: ["argmax_rows", "softmax_rows"], perStorage: false, body: """
    // out[r] = the index of row r's largest logit, the lowest index on ties; NaNs are skipped.
    extern "C" __global__ void argmax_rows(const float *logits, int *out, int cols) {
        const float *row = logits + (long)blockIdx.x * cols;
        float best = -INFINITY;
        int index = 0x7fffffff;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            const float value = row[j];
            if (value > best || (value == best && j < index)) { best = value; index = j; }
        }
        for (int offset = 16; offset > 0; offset >>= 1) {
            const float other = __shfl_xor_sync(0xffffffffu, best, offset);
            const int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
            if (other > best || (other == best && other_index < index)) { best = other; index = other_index; }
        }
        __shared__ float warp_best[32];
        __shared__ int warp_index[32];
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        if (lane == 0) { warp_best[warp] = best; warp_index[warp] = index; }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int)(blockDim.x >> 5); w++) {
                if (warp_best[w] > best || (warp_best[w] == best && warp_index[w] < index)) { best = warp_best[w]; index = warp_index[w]; }
            }
            out[blockIdx.x] = index == 0x7fffffff ? 0 : index;
        }
    }

    // x[r] = softmax(x[r] / temperature) in place; inverse_temperature = 1 / temperature.
    extern "C" __global__ void softmax_rows(float *x, int cols, float inverse_temperature) {
        float *row = x + (long)blockIdx.x * cols;
        float maximum = -INFINITY;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) maximum = fmaxf(maximum, row[j] * inverse_temperature);
        maximum = block_reduce(maximum, Max(), -INFINITY);
        float sum = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            const float e = expf(row[j] * inverse_temperature - maximum);
            row[j] = e;
            sum += e;
        }
        const float inverse = 1.0f / block_reduce(sum, Sum(), 0.0f);
        for (int j = threadIdx.x; j < cols; j += blockDim.x) row[j] *= inverse;
    }
    """)
}
