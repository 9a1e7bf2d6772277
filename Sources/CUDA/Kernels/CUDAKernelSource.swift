/// One family of CUDA C kernels, compiled by NVRTC as one program.
///
/// The sources live in Swift string literals, one file per family, rather than as package
/// resources: medtune ships as a single static binary, and a resource bundle would be a second
/// file beside it that `Bundle.module` must find at run time.
///
/// Most families are written once over `elem`, the storage type of weights and activations, and
/// compiled once per `Storage`: bfloat16 for speed, float32 for exact checks. Every kernel computes
/// in float32 whatever it stores, and rounds to `elem` where a Hugging Face model in the same
/// dtype rounds (one PyTorch operation, one rounding), so that bfloat16 results follow the
/// reference's own rounding rather than only its precision. In float32 storage those roundings
/// are float32's own.
public struct CUDAKernelSource: Sendable {
    /// How weights and activations are stored on the GPU.
    public enum Storage: String, CaseIterable, Sendable {
        case bfloat16, float32

        public var bytes: Int { self == .float32 ? 4 : 2 }
    }

    /// The program's name in NVRTC messages, e.g. "rmsnorm.cu".
    public var name: String
    /// The `extern "C"` entry points the program defines.
    public var functions: [String]
    /// Whether the family is written over `elem` and compiled once per storage; the others use
    /// fixed types (bf16 ↔ f32 conversion, float32 logits).
    public var perStorage = true
    /// The family's own code, without the shared prelude.
    public var body: String

    /// What NVRTC compiles for `storage`: the storage choice, the prelude, then the family's code.
    public func text(_ storage: Storage) -> String {
        (perStorage && storage == .float32 ? "#define MEDTUNE_STORE_F32 1\n" : "") + Self.prelude + body
    }

    /// The storages a family is compiled for.
    public var storages: [Storage] { perStorage ? Storage.allCases : [.bfloat16] }

    /// Every family medtune compiles; the CI test compiles each of these in each of its storages.
    public static let all: [CUDAKernelSource] = [conversion, elementwise, embedding, rmsNorm, rotary, attention, attentionTensorCore, attentionBackward, skinnyProduct, training, sampling]

    /// bfloat16 and the storage type with float32 math, and block-wide reductions. No CUDA headers
    /// are included, so the sources need nothing beyond NVRTC's built-ins.
    static let prelude = """
    // bfloat16 is stored as the upper 16 bits of a float32.
    typedef unsigned short bf16;

    // NVRTC without headers has no <math.h> constants.
    #ifndef INFINITY
    #define INFINITY __int_as_float(0x7f800000)
    #endif

    __device__ __forceinline__ float bf16_to_float(bf16 x) { return __uint_as_float(((unsigned int)x) << 16); }

    // Round to nearest, ties to even, as PyTorch and medtune's CPU code round; NaN stays a quiet NaN.
    __device__ __forceinline__ bf16 float_to_bf16(float x) {
        unsigned int bits = __float_as_uint(x);
        if ((bits & 0x7fffffffu) > 0x7f800000u) return (bf16)((bits >> 16) | 0x0040u);
        bits += 0x7fffu + ((bits >> 16) & 1u);
        return (bf16)(bits >> 16);
    }

    // elem: how weights and activations are stored; load and store convert to and from float32.
    #ifdef MEDTUNE_STORE_F32
    typedef float elem;
    __device__ __forceinline__ float load(elem x) { return x; }
    __device__ __forceinline__ elem store(float x) { return x; }
    #define ELEM_NAN __int_as_float(0x7fc00000)
    #else
    typedef bf16 elem;
    __device__ __forceinline__ float load(elem x) { return bf16_to_float(x); }
    __device__ __forceinline__ elem store(float x) { return float_to_bf16(x); }
    #define ELEM_NAN ((bf16)0x7fc0u)
    #endif

    struct Sum { __device__ float operator()(float a, float b) const { return a + b; } };
    struct Max { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };

    template <typename Op> __device__ float warp_reduce(float v, Op op) {
        for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
        return v;
    }

    // Reduces one value per thread over the block and returns the result to every thread. The
    // block size must be a multiple of 32; the trailing barrier lets a kernel call it again.
    template <typename Op> __device__ float block_reduce(float v, Op op, float identity) {
        __shared__ float partial[32];
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
        v = warp_reduce(v, op);
        if (lane == 0) partial[warp] = v;
        __syncthreads();
        v = warp_reduce(lane < warps ? partial[lane] : identity, op);
        __syncthreads();
        return v;
    }

    """
}
