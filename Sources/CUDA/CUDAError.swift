import MedtuneCore

/// A failure of the CUDA stack, in one line: where it happened (the call, the library, or the
/// `--device cuda` request) and why, e.g. `cuModuleLoadData: CUDA_ERROR_INVALID_PTX (code 218)`.
public struct CUDAError: MedtuneError, Equatable {
    /// The library involved, as it was opened or asked for ("libcuda.so.1").
    public var library: String
    /// What failed: a function name, a library path, or "--device cuda" when no GPU can be used.
    public var context: String
    /// Why, in a few words; `inspect --system` shows this alone when no GPU is usable.
    public var reason: String

    public init(library: String, context: String, _ reason: String) {
        self.library = library
        self.context = context
        self.reason = reason
    }

    public var description: String {
        "\(context): \(reason)".replacingOccurrences(of: "\n", with: "\\n")
    }
}
