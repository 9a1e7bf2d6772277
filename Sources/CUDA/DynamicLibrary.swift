import Foundation

/// A shared library opened with `dlopen`, for the CUDA libraries medtune never links against.
struct DynamicLibrary {
    /// The name or path that opened, as it was asked for.
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `candidates` that loads; on failure returns dlerror's text for each.
    static func open(_ candidates: [String]) -> Result<DynamicLibrary, OpenFailure> {
        var errors: [String] = []
        for name in candidates {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                return .success(DynamicLibrary(path: name, handle: handle))
            }
            errors.append(dlerror().map { String(cString: $0) } ?? "\(name): cannot open")
        }
        return .failure(OpenFailure(messages: errors))
    }

    struct OpenFailure: Error {
        var messages: [String]
    }

    /// The entry point `name`, cast to its C function-pointer type, or nil when absent.
    func optionalSymbol<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }

    /// The entry point `name`; a library without it is not the one medtune expects.
    func symbol<F>(_ name: String, as type: F.Type) throws -> F {
        guard let function = optionalSymbol(name, as: type) else {
            throw CUDAError(library: path, context: path, "missing entry point \(name) (not a usable CUDA library)")
        }
        return function
    }
}
