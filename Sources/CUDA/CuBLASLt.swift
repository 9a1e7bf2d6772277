import CCUDA
import Foundation

/// cuBLASLt, opened at run time, for matrix products with bfloat16 inputs and float32
/// accumulation on the tensor cores.
public final class CuBLASLt: @unchecked Sendable {
    public static let candidates = ["libcublasLt.so.13", "libcublasLt.so.12"]

    public let path: String
    /// cublasLtGetVersion's number: 130100 for 13.1.0.
    public let version: Int
    private let statusName: medtune_cublasLtGetStatusName_fn?
    private let create: medtune_cublasLtCreate_fn
    private let destroy: medtune_cublasLtDestroy_fn
    private let descCreate: medtune_cublasLtMatmulDescCreate_fn
    private let descDestroy: medtune_cublasLtMatmulDescDestroy_fn
    private let descSetAttribute: medtune_cublasLtMatmulDescSetAttribute_fn
    private let layoutCreate: medtune_cublasLtMatrixLayoutCreate_fn
    private let layoutDestroy: medtune_cublasLtMatrixLayoutDestroy_fn
    private let preferenceCreate: medtune_cublasLtMatmulPreferenceCreate_fn
    private let preferenceDestroy: medtune_cublasLtMatmulPreferenceDestroy_fn
    private let preferenceSetAttribute: medtune_cublasLtMatmulPreferenceSetAttribute_fn
    private let heuristic: medtune_cublasLtMatmulAlgoGetHeuristic_fn
    private let matmul: medtune_cublasLtMatmul_fn

    public static func load() throws -> CuBLASLt {
        guard case .success(let library) = DynamicLibrary.open(candidates) else {
            throw CUDAError(library: "libcublasLt", context: "--device cuda",
                            "cuBLASLt not found (\(candidates.joined(separator: ", ")))")
        }
        return try CuBLASLt(library)
    }

    private init(_ library: DynamicLibrary) throws {
        path = library.path
        statusName = library.optionalSymbol("cublasLtGetStatusName", as: medtune_cublasLtGetStatusName_fn.self)
        create = try library.symbol("cublasLtCreate", as: medtune_cublasLtCreate_fn.self)
        destroy = try library.symbol("cublasLtDestroy", as: medtune_cublasLtDestroy_fn.self)
        descCreate = try library.symbol("cublasLtMatmulDescCreate", as: medtune_cublasLtMatmulDescCreate_fn.self)
        descDestroy = try library.symbol("cublasLtMatmulDescDestroy", as: medtune_cublasLtMatmulDescDestroy_fn.self)
        descSetAttribute = try library.symbol("cublasLtMatmulDescSetAttribute", as: medtune_cublasLtMatmulDescSetAttribute_fn.self)
        layoutCreate = try library.symbol("cublasLtMatrixLayoutCreate", as: medtune_cublasLtMatrixLayoutCreate_fn.self)
        layoutDestroy = try library.symbol("cublasLtMatrixLayoutDestroy", as: medtune_cublasLtMatrixLayoutDestroy_fn.self)
        preferenceCreate = try library.symbol("cublasLtMatmulPreferenceCreate", as: medtune_cublasLtMatmulPreferenceCreate_fn.self)
        preferenceDestroy = try library.symbol("cublasLtMatmulPreferenceDestroy", as: medtune_cublasLtMatmulPreferenceDestroy_fn.self)
        preferenceSetAttribute = try library.symbol("cublasLtMatmulPreferenceSetAttribute", as: medtune_cublasLtMatmulPreferenceSetAttribute_fn.self)
        heuristic = try library.symbol("cublasLtMatmulAlgoGetHeuristic", as: medtune_cublasLtMatmulAlgoGetHeuristic_fn.self)
        matmul = try library.symbol("cublasLtMatmul", as: medtune_cublasLtMatmul_fn.self)
        version = Int(try library.symbol("cublasLtGetVersion", as: medtune_cublasLtGetVersion_fn.self)())
    }

    /// "13.1.0" for 130100.
    public var versionString: String { "\(version / 10000).\(version / 100 % 100).\(version % 100)" }

    func check(_ status: medtune_cublas_status, _ function: String) throws {
        guard status != 0 else { return }
        let name = statusName.flatMap { $0(status) }.map { String(cString: $0) } ?? "CUBLAS_STATUS"
        throw CUDAError(library: path, context: function, "\(name) (code \(status))")
    }

    /// A cuBLASLt handle bound to `device`'s context and stream, with its workspace.
    public func session(on device: CUDADevice, workspaceBytes: Int = 32 << 20) throws -> Session {
        var handle: medtune_cublaslt_handle?
        try check(create(&handle), "cublasLtCreate")
        do {
            return Session(library: self, handle: handle!, workspace: try device.allocate(bytes: workspaceBytes), stream: device.stream)
        } catch {
            _ = destroy(handle)
            throw error
        }
    }

    /// Element type of a product's inputs or output.
    public enum Element: Hashable, Sendable {
        case float32, bfloat16
        var dataType: Int32 { self == .float32 ? Int32(MEDTUNE_CUDA_R_32F) : Int32(MEDTUNE_CUDA_R_16BF) }
        public var bytes: Int { self == .float32 ? 4 : 2 }
    }

    /// The descriptors and chosen algorithm of one product shape. Choosing costs far more than
    /// multiplying at decoding sizes, so each shape is planned once per session.
    final class Plan {
        let library: CuBLASLt
        var desc: medtune_cublaslt_matmul_desc?
        var layouts: [medtune_cublaslt_layout?] = []
        var algorithm = medtune_cublaslt_heuristic()

        init(library: CuBLASLt) { self.library = library }

        deinit {
            layouts.forEach { _ = library.layoutDestroy($0) }
            if let desc { _ = library.descDestroy(desc) }
        }
    }

    struct Shape: Hashable {
        var m, n, k: Int
        var input, output: Element
        /// Whether the product adds a bias in its epilogue (a different kernel choice).
        var bias: Bool
        /// Whether A is stored [k×m] and B [k×n] (row-major) rather than A [m×k] and B [n×k].
        var transposeA: Bool, transposeB: Bool
    }

    public final class Session {
        let library: CuBLASLt
        let handle: medtune_cublaslt_handle
        let workspace: DeviceBuffer
        let stream: medtune_cu_stream
        private var plans: [Shape: Plan] = [:]

        init(library: CuBLASLt, handle: medtune_cublaslt_handle, workspace: DeviceBuffer, stream: medtune_cu_stream) {
            self.library = library
            self.handle = handle
            self.workspace = workspace
            self.stream = stream
        }

        deinit {
            plans.removeAll()
            _ = library.destroy(handle)
        }

        /// C[m×n] = A[m×k] · B[n×k]ᵀ, all row-major, A and B of type `input`, accumulated in
        /// float32 (float32 inputs are multiplied in full float32, never TF32): activations times
        /// a weight stored as PyTorch's Linear stores it ([out × in]).
        ///
        /// The backward products read their operands the other way round: `transposeA` takes A
        /// stored [k×m] (C = Aᵀ·…, a weight gradient summed over rows), and `transposeB: false`
        /// takes B stored [k×n] (C = …·B, an input gradient through a weight [out × in]).
        ///
        /// `alpha` scales the product and `accumulate` adds it to C instead of overwriting it
        /// (one rounding of the sum); `bias` [n], of the output's type, is added to every row
        /// before that one rounding, as PyTorch's `F.linear` adds it.
        ///
        /// cuBLASLt is column-major, where row-major C is Cᵀ[n×m] = op(B)ᵀ·op(A)ᵀ, and a row-major
        /// matrix read column-major is its transpose: B [n×k] is read as k×n and transposed,
        /// B [k×n] as n×k as it is; A [m×k] as k×m as it is, A [k×m] as m×k and transposed.
        public func multiply(a: DeviceBuffer, b: DeviceBuffer, c: DeviceBuffer, m: Int, n: Int, k: Int, input: Element = .bfloat16,
                             output: Element, bias: DeviceBuffer? = nil, alpha: Float = 1, accumulate: Bool = false,
                             transposeA: Bool = false, transposeB: Bool = true) throws {
            let plan = try self.plan(Shape(m: m, n: n, k: k, input: input, output: output, bias: bias != nil,
                                           transposeA: transposeA, transposeB: transposeB))
            if let bias {
                var address = bias.address
                try library.check(library.descSetAttribute(plan.desc, Int32(MEDTUNE_CUBLASLT_MATMUL_DESC_BIAS_POINTER), &address, 8),
                                  "cublasLtMatmulDescSetAttribute(BIAS_POINTER)")
            }
            var alpha = alpha, beta: Float = accumulate ? 1 : 0
            try library.check(library.matmul(handle, plan.desc, &alpha, UnsafeRawPointer(bitPattern: UInt(b.address)), plan.layouts[0],
                                             UnsafeRawPointer(bitPattern: UInt(a.address)), plan.layouts[1], &beta,
                                             UnsafeRawPointer(bitPattern: UInt(c.address)), plan.layouts[2],
                                             UnsafeMutableRawPointer(bitPattern: UInt(c.address)), plan.layouts[2], &plan.algorithm.algo,
                                             UnsafeMutableRawPointer(bitPattern: UInt(workspace.address)), workspace.bytes, stream),
                              "cublasLtMatmul")
        }

        private func plan(_ shape: Shape) throws -> Plan {
            if let plan = plans[shape] { return plan }
            let lib = library, plan = Plan(library: lib)
            try lib.check(lib.descCreate(&plan.desc, Int32(MEDTUNE_CUBLAS_COMPUTE_32F), Int32(MEDTUNE_CUDA_R_32F)), "cublasLtMatmulDescCreate")
            // cuBLASLt's first operand is B, its second A.
            var first = Int32(shape.transposeB ? MEDTUNE_CUBLAS_OP_T : MEDTUNE_CUBLAS_OP_N)
            var second = Int32(shape.transposeA ? MEDTUNE_CUBLAS_OP_T : MEDTUNE_CUBLAS_OP_N)
            try lib.check(lib.descSetAttribute(plan.desc, Int32(MEDTUNE_CUBLASLT_MATMUL_DESC_TRANSA), &first, 4), "cublasLtMatmulDescSetAttribute(TRANSA)")
            try lib.check(lib.descSetAttribute(plan.desc, Int32(MEDTUNE_CUBLASLT_MATMUL_DESC_TRANSB), &second, 4), "cublasLtMatmulDescSetAttribute(TRANSB)")
            if shape.bias {
                var epilogue = UInt32(MEDTUNE_CUBLASLT_EPILOGUE_BIAS)
                try lib.check(lib.descSetAttribute(plan.desc, Int32(MEDTUNE_CUBLASLT_MATMUL_DESC_EPILOGUE), &epilogue, 4),
                              "cublasLtMatmulDescSetAttribute(EPILOGUE)")
            }
            let bStored = shape.transposeB ? (shape.k, shape.n) : (shape.n, shape.k)
            let aStored = shape.transposeA ? (shape.m, shape.k) : (shape.k, shape.m)
            for (type, rows, cols) in [(shape.input, bStored.0, bStored.1), (shape.input, aStored.0, aStored.1), (shape.output, shape.n, shape.m)] {
                var layout: medtune_cublaslt_layout?
                try lib.check(lib.layoutCreate(&layout, type.dataType, UInt64(rows), UInt64(cols), Int64(rows)), "cublasLtMatrixLayoutCreate")
                plan.layouts.append(layout)
            }
            var preference: medtune_cublaslt_preference?
            try lib.check(lib.preferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
            defer { _ = lib.preferenceDestroy(preference) }
            var workspaceBytes = UInt64(workspace.bytes)
            try lib.check(lib.preferenceSetAttribute(preference, Int32(MEDTUNE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), &workspaceBytes, 8),
                          "cublasLtMatmulPreferenceSetAttribute")
            var found: Int32 = 0
            try lib.check(lib.heuristic(handle, plan.desc, plan.layouts[0], plan.layouts[1], plan.layouts[2], plan.layouts[2], preference, 1,
                                        &plan.algorithm, &found), "cublasLtMatmulAlgoGetHeuristic")
            guard found > 0 else {
                throw CUDAError(library: lib.path, context: "cublasLtMatmulAlgoGetHeuristic",
                                "no algorithm for a \(shape.m)×\(shape.k) · \(shape.k)×\(shape.n) \(shape.input) product")
            }
            plans[shape] = plan
            return plan
        }
    }
}
