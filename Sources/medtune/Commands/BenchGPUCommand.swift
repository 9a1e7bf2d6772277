import ArgumentParser
import Bench
import CUDA
import CUDATransformer
import Dispatch
import Foundation
import MedtuneCore

/// `medtune bench gpu`: proves the CUDA stack on real hardware. Every kernel runs on random
/// bfloat16 inputs and is compared with MedtuneCore's CPU operation on the same (rounded) inputs
/// in float64; a cuBLASLt bf16 GEMM (with and without its bias epilogue) is checked on sampled
/// entries and timed. With `--reference`, the GPU model is
/// checked against HF transformers on the same GPU. Exits non-zero when any check fails.
struct BenchGPUCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu",
        abstract: "Check every CUDA kernel against the CPU reference, and time a cuBLASLt bf16 GEMM.")

    @Option(help: "The GPU to check: cuda or cuda:N.")
    var device = "cuda"

    @Option(help: "Size of the square GEMM that is timed.")
    var gemmSize = 4096

    @Option(help: "Timed GEMM repetitions (the mean is reported).")
    var repeats = 50

    @Flag(help: "Also compare the GPU Qwen2 model with the CPU one (random weights, greedy generation, with and without LoRA).")
    var modelCheck = false

    @Flag(help: "Also compare a GPU training pass with the CPU one (random weights and adapters: loss and every LoRA gradient, checkpointing, bfloat16, AdamW steps).")
    var trainCheck = false

    @Option(help: ArgumentHelp("Compare the GPU model with HF transformers: a folder written by scripts/peers/hf_gpu_reference.py (model/, adapter/, reference.json).",
                               valueName: "folder"))
    var reference: String?

    @Flag(help: "With --reference, compare in float32 only (for bases whose bfloat16 logits are too close to call, such as random ones at HF's default initialisation).")
    var float32 = false

    @Option(help: ArgumentHelp("Compare training with HF transformers + PEFT: a folder written by scripts/peers/hf_peft_train_reference.py (the CPU path too; with --device cpu, the CPU path alone).",
                               valueName: "folder"))
    var trainReference: String?

    func validate() throws {
        guard gemmSize > 0, repeats > 0 else { throw ValidationError("--gemm-size and --repeats must be positive") }
    }

    func run() throws {
        let choice = try DeviceChoice(parsing: device)
        if let trainReference {
            var backends: [GPUTrainingReferenceCheck.Backend] = [("CPU float32", true, { $0 })]
            if choice != .cpu {
                for storage in CUDAKernelSource.Storage.allCases.reversed() {
                    guard let gpu = try DeviceOptions.openGPU(choice, storage: storage) else { throw ValidationError("--device \(device): no GPU found") }
                    backends.append(("GPU \(storage.rawValue)", storage == .float32, { try CUDAQwen2Trainer($0, kernels: gpu.kernels, blas: gpu.blas) }))
                }
            }
            var check = GPUTrainingReferenceCheck(folder: URL(fileURLWithPath: trainReference))
            try check.run(backends: backends)
            guard check.failures.isEmpty else { throw SystemError("bench gpu --train-reference: " + check.failures.joined(separator: "; ")) }
            print("training reference check passed")
            return
        }
        guard case .cuda(let ordinal) = choice else {
            throw ValidationError("bench gpu checks a GPU: --device cuda or cuda:N")
        }
        if let reference {
            var check = GPUReferenceCheck(folder: URL(fileURLWithPath: reference), device: choice, bfloat16: !float32)
            try check.run()
            guard check.failures.isEmpty else { throw SystemError("bench gpu --reference: " + check.failures.joined(separator: "; ")) }
            print("reference check passed")
            return
        }
        let driver = try CUDADriver.load()
        let nvrtc = try NVRTC.load()
        let cublas = try CuBLASLt.load()
        let gpu = try CUDADevice(driver: driver, ordinal: ordinal)
        print("GPU \(ordinal): \(gpu.info.summary)")
        print("CUDA driver \(driver.versionString), NVRTC \(nvrtc.versionString) (\(nvrtc.path)), cuBLASLt \(cublas.versionString) (\(cublas.path))")
        let cache = KernelCache()
        let start = DispatchTime.now().uptimeNanoseconds
        let kernels = try CUDAKernels(device: gpu, nvrtc: nvrtc, cache: cache)
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        print("kernels: \(CUDAKernelSource.all.count) programs for sm_\(gpu.info.architecture) ready in "
              + String(format: "%.0f ms", milliseconds) + " (cache: \(cache.folder.path))")

        let session = try cublas.session(on: gpu)
        var checks = GPUChecks(kernels: kernels, session: session)
        try checks.runAll(gemmSize: gemmSize, repeats: repeats)
        print(String(repeating: "-", count: 100))
        print(tableCell("kernel", 20) + tableCell("shape", 44) + tableCell("max |error|", 13) + tableCell("tolerance", 12) + "result")
        for row in checks.rows {
            print(tableCell(row.kernel, 20) + tableCell(row.shape, 44) + tableCell(String(format: "%.3g", row.error), 13)
                  + tableCell(String(format: "%.3g", row.tolerance), 12) + (row.passed ? "pass" : "FAIL"))
        }
        for line in checks.timings { print(line) }
        let failed = checks.rows.filter { !$0.passed }.count
        guard failed == 0 else { throw SystemError("bench gpu: \(failed) of \(checks.rows.count) checks failed") }
        print("all \(checks.rows.count) checks passed")
        // Both checks run whatever the other found, and their failures are reported together.
        var failures: [String] = []
        if modelCheck {
            print(String(repeating: "-", count: 100))
            var model = GPUModelCheck(kernels: kernels, blas: session)
            try model.run()
            if model.failures.isEmpty { print("model check passed") }
            failures += model.failures.map { "--model-check: " + $0 }
        }
        if trainCheck {
            print(String(repeating: "-", count: 100))
            var training = GPUTrainingCheck(device: gpu, nvrtc: nvrtc, cache: cache, blas: session)
            try training.run()
            if training.failures.isEmpty { print("training check passed") }
            failures += training.failures.map { "--train-check: " + $0 }
        }
        guard failures.isEmpty else { throw SystemError("bench gpu " + failures.joined(separator: "; ")) }
    }

}

/// The checks of `bench gpu`, one row each.
struct GPUChecks {
    struct Row {
        var kernel, shape: String
        var error, tolerance: Double
        var passed: Bool { error <= tolerance }
    }

    let kernels: CUDAKernels
    let session: CuBLASLt.Session
    var rows: [Row] = []
    var timings: [String] = []
    var rng = SplitMix64(seed: 2024)

    /// Relative tolerance of a result rounded to bfloat16 (8 significant bits): twice the
    /// rounding step at the largest magnitude, leaving room for float32-vs-float64 math.
    static let bf16Tolerance = 1.0 / 128

    init(kernels: CUDAKernels, session: CuBLASLt.Session) {
        self.kernels = kernels
        self.session = session
    }

    var gpu: CUDADevice { kernels.device }

    mutating func runAll(gemmSize: Int, repeats: Int) throws {
        try conversion(count: 1 << 20)
        try embedding(tokens: 37, dim: 896, vocabulary: 1000)
        try elementwise(count: 1 << 20)
        try scaledAdd(count: 37 * 896)
        try cacheAppend(batch: 3, count: 5, capacity: 40, start: 17, row: 128)
        try rmsNorm(rows: 64, dim: 896)
        try rmsNorm(rows: 7, dim: 3584)
        try rotary(tokens: 37, heads: 14, headDim: 64, firstPosition: 1000)
        try attention(CausalAttention(batch: 2, queryLength: 45, keyLength: 45, queryHeads: 14, kvHeads: 2, headDim: 64), padding: 7, label: "attention prefill")
        try attention(CausalAttention(batch: 1, queryLength: 130, keyLength: 130, queryHeads: 28, kvHeads: 4, headDim: 128), padding: 0, label: "attention prefill")
        try attention(CausalAttention(batch: 2, queryLength: 20, keyLength: 50, queryHeads: 14, kvHeads: 2, headDim: 64, keyCapacity: 64),
                      padding: 9, label: "attention after cache")
        try attention(CausalAttention(batch: 2, queryLength: 1, keyLength: 300, queryHeads: 14, kvHeads: 2, headDim: 64, keyCapacity: 512),
                      padding: 20, label: "attention decode")
        try attentionBackward(CausalAttention(batch: 2, queryLength: 45, keyLength: 45, queryHeads: 14, kvHeads: 2, headDim: 64), padding: 7)
        try attentionBackward(CausalAttention(batch: 1, queryLength: 130, keyLength: 130, queryHeads: 28, kvHeads: 4, headDim: 128), padding: 0)
        try sampling(rows: 4, cols: 151_936)
        try gemm(m: 1024, n: 4864, k: 896, output: .float32)
        try gemm(m: 7, n: 896, k: 896, output: .bfloat16, bias: true)
        try gemm(m: 1, n: 4864, k: 896, output: .bfloat16, bias: true)
        try gemm(m: 1024, n: 896, k: 4864, output: .bfloat16)
        // The backward products: an input gradient through a weight (B not transposed) and a
        // LoRA weight gradient summed over rows (A transposed).
        try gemm(m: 1024, n: 896, k: 4864, output: .bfloat16, transposeB: false)
        try gemm(m: 16, n: 896, k: 1024, output: .float32, transposeA: true, transposeB: false)
        try gemm(m: gemmSize, n: gemmSize, k: gemmSize, output: .float32, timedRepeats: repeats)
        // Decoding's products: the skinny kernel on one to eight rows (a tail of columns too),
        // timed beside cuBLASLt on a 7B MLP weight.
        try gemm(m: 1, n: 4864, k: 896, output: .bfloat16, bias: true, skinny: true)
        try gemm(m: 3, n: 1000, k: 4864, output: .bfloat16, skinny: true)
        try gemm(m: 8, n: 896, k: 3584, output: .bfloat16, bias: true, skinny: true)
        for (n, k) in [(512, 3584), (3584, 3584), (18944, 3584), (3584, 18944)] {
            for rows in [1, 8] {
                try gemm(m: rows, n: n, k: k, output: .bfloat16, skinny: true, timedRepeats: repeats)
                try gemm(m: rows, n: n, k: k, output: .bfloat16, timedRepeats: repeats)
            }
        }
    }

    // MARK: inputs and comparison

    /// `count` bfloat16 values uniform in [low, high), as bits and as exact doubles.
    mutating func random(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> (bits: [UInt16], values: [Double]) {
        let bits = (0..<count).map { _ in BFloat16.bits(low + (high - low) * rng.nextFloat()) }
        return (bits, bits.map(Self.value))
    }

    static func value(_ bits: UInt16) -> Double { Double(Float(bitPattern: UInt32(bits) << 16)) }

    func download(_ buffer: DeviceBuffer, count: Int) throws -> [Double] {
        try gpu.synchronize()
        return try buffer.download(UInt16.self, count: count).map(Self.value)
    }

    /// Records max |gpu − reference| against `relative` × max |reference| (or an absolute bound).
    mutating func record(_ kernel: String, _ shape: String, gpu: [Double], reference: [Double], relative: Double? = nil, absolute: Double = 0) {
        precondition(gpu.count == reference.count)
        var error = 0.0, scale = 0.0
        for (g, r) in zip(gpu, reference) {
            // A NaN must fail the check, not vanish through max().
            error = max(error, g.isNaN != r.isNaN ? .infinity : (g.isNaN ? 0 : abs(g - r)))
            if !r.isNaN { scale = max(scale, abs(r)) }
        }
        rows.append(Row(kernel: kernel, shape: shape, error: error, tolerance: relative.map { $0 * scale } ?? absolute))
    }

    // MARK: kernels

    mutating func conversion(count: Int) throws {
        // Values across many binades, rounded on the GPU and by medtune's CPU rounding.
        let floats = (0..<count).map { _ in (rng.nextFloat() - 0.5) * Float.pow(2, Float(Int(rng.next() % 60)) - 30) }
        let input = try gpu.upload(floats), rounded = try gpu.allocate(bytes: 2 * count), back = try gpu.allocate(bytes: 4 * count)
        try kernels.float32ToBF16(input, into: rounded, count: count)
        try kernels.bf16ToFloat32(rounded, into: back, count: count)
        let expected = floats.map { Self.value(BFloat16.bits($0)) }
        record("f32_to_bf16", "\(count)", gpu: try download(rounded, count: count), reference: expected)
        record("bf16_to_f32", "\(count)", gpu: try back.download(Float.self, count: count).map(Double.init), reference: expected)
    }

    mutating func embedding(tokens: Int, dim: Int, vocabulary: Int) throws {
        let table = random(vocabulary * dim)
        let ids = (0..<tokens).map { _ in Int32(rng.next() % UInt64(vocabulary)) }
        let out = try gpu.allocate(bytes: 2 * tokens * dim)
        try kernels.embedding(ids: try gpu.upload(ids), table: try gpu.upload(table.bits), into: out, tokens: tokens, dim: dim, vocabulary: vocabulary)
        let expected = ids.flatMap { table.values[Int($0) * dim..<(Int($0) + 1) * dim] }
        record("embedding_gather", "\(tokens) ids, \(vocabulary)×\(dim)", gpu: try download(out, count: tokens * dim), reference: expected)
    }

    mutating func elementwise(count: Int) throws {
        let a = random(count, -4, 4), b = random(count, -4, 4)
        let bufferA = try gpu.upload(a.bits), bufferB = try gpu.upload(b.bits), out = try gpu.allocate(bytes: 2 * count)
        try kernels.add(bufferA, bufferB, into: out, count: count)
        // A float32 sum rounded to bfloat16 is what the kernel computes: exact agreement.
        let sums = zip(a.values, b.values).map { Self.value(BFloat16.bits(Float($0) + Float($1))) }
        record("residual_add", "\(count)", gpu: try download(out, count: count), reference: sums)
        try kernels.swiGLU(gate: bufferA, up: bufferB, into: out, count: count)
        var expected = [Double](repeating: 0, count: count)
        SwiGLU.forward(gate: a.values, up: b.values, count: count, into: &expected)
        record("swiglu", "\(count)", gpu: try download(out, count: count), reference: expected, relative: Self.bf16Tolerance)
    }

    /// out + update · scale with both roundings (a LoRA update as PEFT adds it): exact agreement.
    mutating func scaledAdd(count: Int) throws {
        let out = random(count, -4, 4), update = random(count, -4, 4)
        let scale: Float = 2.5
        let buffer = try gpu.upload(out.bits)
        try kernels.scaledAdd(buffer, update: try gpu.upload(update.bits), scale: scale, count: count)
        let expected = out.values.indices.map { i in
            Self.value(BFloat16.bits(Float(out.values[i]) + Float(Self.value(BFloat16.bits(Float(update.values[i]) * scale)))))
        }
        record("scaled_add", "\(count), scale \(scale)", gpu: try download(buffer, count: count), reference: expected)
    }

    mutating func cacheAppend(batch: Int, count: Int, capacity: Int, start: Int, row: Int) throws {
        let cache = random(batch * capacity * row), fresh = random(batch * count * row)
        let buffer = try gpu.upload(cache.bits)
        try kernels.appendToCache(try gpu.upload(fresh.bits), cache: buffer, batch: batch, count: count, capacity: capacity,
                                  start: try gpu.upload([Int32(start)]), row: row)
        var expected = cache.values
        for b in 0..<batch {
            for i in 0..<count * row { expected[(b * capacity + start) * row + i] = fresh.values[b * count * row + i] }
        }
        record("kv_cache_append", "b\(batch) +\(count) at \(start)/\(capacity) × \(row)", gpu: try download(buffer, count: cache.bits.count),
               reference: expected)
    }

    mutating func rmsNorm(rows: Int, dim: Int) throws {
        let x = random(rows * dim, -2, 2), weight = random(dim, 0.5, 1.5)
        let norm = RMSNorm(dim: dim, eps: 1e-6)
        let out = try gpu.allocate(bytes: 2 * rows * dim)
        try kernels.rmsNorm(norm, x: try gpu.upload(x.bits), weight: try gpu.upload(weight.bits), into: out, rows: rows)
        var expected = [Double](repeating: 0, count: rows * dim), rstd = [Double](repeating: 0, count: rows)
        norm.forward(x.values, weight: weight.values, rows: rows, into: &expected, rstd: &rstd)
        record("rmsnorm", "\(rows)×\(dim)", gpu: try download(out, count: rows * dim), reference: expected, relative: Self.bf16Tolerance)
    }

    mutating func rotary(tokens: Int, heads: Int, headDim: Int, firstPosition: Int) throws {
        let rope = RotaryEmbedding(headDim: headDim, theta: 1_000_000)
        let table: (cos: [Float], sin: [Float]) = rope.table(positions: Array(firstPosition..<firstPosition + tokens))
        let x = random(tokens * heads * headDim, -2, 2)
        let buffer = try gpu.upload(x.bits)
        let positions = (firstPosition..<firstPosition + tokens).map(Int32.init)
        try kernels.rotary(rope, x: buffer, positions: try gpu.upload(positions), inverseFrequencies: try gpu.upload(rope.inverseFrequencies),
                           tokens: tokens, heads: heads)
        var expected = x.values
        rope.forward(&expected, tokens: tokens, heads: heads, cos: table.cos.map(Double.init), sin: table.sin.map(Double.init))
        record("rotary", "\(tokens)×\(heads)×\(headDim), positions \(firstPosition)…", gpu: try download(buffer, count: x.bits.count),
               reference: expected, relative: Self.bf16Tolerance)
    }

    /// The last batch row is left-padded by `padding` keys.
    mutating func attention(_ shape: CausalAttention, padding: Int, label: String) throws {
        let qCount = shape.batch * shape.queryLength * shape.queryHeads * shape.headDim
        let kvCount = shape.batch * shape.keyCapacity * shape.kvHeads * shape.headDim
        let q = random(qCount), k = random(kvCount), v = random(kvCount)
        let mask: [UInt8] = (0..<shape.batch * shape.keyLength).map { i in
            i / shape.keyLength == shape.batch - 1 && i % shape.keyLength < padding ? 0 : 1
        }
        let out = try gpu.allocate(bytes: 2 * qCount)
        // The GPU reads the mask at the cache's capacity, and the cached length from its memory.
        let capacityMask = (0..<shape.batch * shape.keyCapacity).map { i in
            i % shape.keyCapacity < shape.keyLength ? mask[i / shape.keyCapacity * shape.keyLength + i % shape.keyCapacity] : 0
        }
        try kernels.attention(shape, q: try gpu.upload(q.bits), k: try gpu.upload(k.bits), v: try gpu.upload(v.bits),
                              keyMask: padding > 0 ? try gpu.upload(capacityMask) : nil,
                              past: try gpu.upload([Int32(shape.keyLength - shape.queryLength)]), into: out)
        var expected = [Double](repeating: 0, count: qCount), probs = [Double](repeating: 0, count: shape.probabilityCount)
        mask.withUnsafeBufferPointer { mask in
            shape.forward(q: q.values, k: k.values, v: v.values, keyMask: padding > 0 ? mask.baseAddress : nil, out: &expected, probs: &probs)
        }
        let describe = "b\(shape.batch) q\(shape.queryLength) k\(shape.keyLength)/\(shape.keyCapacity) h\(shape.queryHeads)/\(shape.kvHeads)×\(shape.headDim)"
            + (padding > 0 ? " pad \(padding)" : "")
        record(label, describe, gpu: try download(out, count: qCount), reference: expected, relative: Self.bf16Tolerance)
    }

    /// The training pass's attention backward (after its forward, which keeps the log-sum-exp)
    /// against `CausalAttention.backward` on the CPU; the last batch row is left-padded.
    mutating func attentionBackward(_ shape: CausalAttention, padding: Int) throws {
        let qCount = shape.batch * shape.queryLength * shape.queryHeads * shape.headDim
        let kvCount = shape.batch * shape.keyLength * shape.kvHeads * shape.headDim
        let q = random(qCount), k = random(kvCount), v = random(kvCount), dOut = random(qCount)
        let mask: [UInt8] = (0..<shape.batch * shape.keyLength).map { i in
            i / shape.keyLength == shape.batch - 1 && i % shape.keyLength < padding ? 0 : 1
        }
        let keyMask = padding > 0 ? try gpu.upload(mask) : nil
        let qBuffer = try gpu.upload(q.bits), kBuffer = try gpu.upload(k.bits), vBuffer = try gpu.upload(v.bits)
        let out = try gpu.allocate(bytes: 2 * qCount), lse = try gpu.allocate(bytes: 4 * shape.batch * shape.queryLength * shape.queryHeads)
        try kernels.attention(shape, q: qBuffer, k: kBuffer, v: vBuffer, keyMask: keyMask, past: try gpu.upload([Int32(0)]), into: out,
                              logSumExp: lse)
        let dq = try gpu.allocate(bytes: 2 * qCount), dk = try gpu.allocate(bytes: 2 * kvCount), dv = try gpu.allocate(bytes: 2 * kvCount)
        try kernels.attentionBackward(shape, q: qBuffer, k: kBuffer, v: vBuffer, out: out, dOut: try gpu.upload(dOut.bits), logSumExp: lse,
                                      scratch: try gpu.allocate(bytes: kernels.attentionBackwardScratchBytes(shape)), keyMask: keyMask,
                                      dq: dq, dk: dk, dv: dv)
        var forward = [Double](repeating: 0, count: qCount), probs = [Double](repeating: 0, count: shape.probabilityCount)
        var expectedDQ = [Double](repeating: 0, count: qCount), expectedDK = [Double](repeating: 0, count: kvCount)
        var expectedDV = [Double](repeating: 0, count: kvCount)
        mask.withUnsafeBufferPointer { mask in
            shape.forward(q: q.values, k: k.values, v: v.values, keyMask: padding > 0 ? mask.baseAddress : nil, out: &forward, probs: &probs)
        }
        shape.backward(dOut: dOut.values, q: q.values, k: k.values, v: v.values, probs: probs, dq: &expectedDQ, dk: &expectedDK, dv: &expectedDV)
        let describe = "b\(shape.batch) q\(shape.queryLength) h\(shape.queryHeads)/\(shape.kvHeads)×\(shape.headDim)" + (padding > 0 ? " pad \(padding)" : "")
        // Two roundings to bfloat16 on the way (the probabilities or their gradients entering a
        // product, then the result): twice the forward's tolerance.
        for (name, buffer, reference, count) in [("dq", dq, expectedDQ, qCount), ("dk", dk, expectedDK, kvCount), ("dv", dv, expectedDV, kvCount)] {
            record("attention grad \(name)", describe, gpu: try download(buffer, count: count), reference: reference, relative: 2 * Self.bf16Tolerance)
        }
    }

    mutating func sampling(rows: Int, cols: Int) throws {
        let logits = (0..<rows * cols).map { _ in 20 * (rng.nextFloat() - 0.5) }
        let buffer = try gpu.upload(logits), choice = try gpu.allocate(bytes: 4 * rows)
        try kernels.argmax(logits: buffer, into: choice, rows: rows, cols: cols)
        try gpu.synchronize()
        let chosen = try choice.download(Int32.self, count: rows)
        let expected = (0..<rows).map { r in
            let row = logits[r * cols..<(r + 1) * cols]
            return Int32(row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - r * cols)
        }
        record("argmax_rows", "\(rows)×\(cols) (rows differing)", gpu: [Double(zip(chosen, expected).filter { $0 != $1 }.count)], reference: [0])
        let temperature = 0.7
        try kernels.softmax(buffer, rows: rows, cols: cols, temperature: Float(temperature))
        try gpu.synchronize()
        var probabilities: [Double] = []
        for r in 0..<rows {
            let row = logits[r * cols..<(r + 1) * cols].map { Double($0) / temperature }
            let top = row.max()!, sum = row.reduce(0) { $0 + exp($1 - top) }
            probabilities += row.map { exp($0 - top) / sum }
        }
        record("softmax_rows", "\(rows)×\(cols), T=\(temperature)", gpu: try buffer.download(Float.self, count: rows * cols).map(Double.init),
               reference: probabilities, relative: 1e-4)
    }

    /// C = op(A)·op(B) through cuBLASLt (A [m×k] or, transposed, [k×m]; B [n×k] transposed, or
    /// [k×n]), checked on sampled entries against a float64 dot product of the same bfloat16
    /// inputs; with `timedRepeats`, also timed.
    ///
    /// `skinny` runs it through `CUDAKernels.skinnyProduct` (bfloat16 out, B transposed) instead.
    mutating func gemm(m: Int, n: Int, k: Int, output: CuBLASLt.Element, bias: Bool = false, transposeA: Bool = false, transposeB: Bool = true,
                       skinny: Bool = false, timedRepeats: Int? = nil) throws {
        precondition(!skinny || (output == .bfloat16 && !transposeA && transposeB), "the skinny kernel computes x·Wᵀ in bfloat16")
        let a = random(m * k), b = random(n * k), biasValues = random(n, -4, 4)
        let bufferA = try gpu.upload(a.bits), bufferB = try gpu.upload(b.bits)
        let c = try gpu.allocate(bytes: (output == .float32 ? 4 : 2) * m * n)
        let biasBuffer = bias ? try gpu.upload(biasValues.bits) : nil
        func multiply() throws {
            if skinny {
                try kernels.skinnyProduct(x: bufferA, weight: bufferB, bias: biasBuffer, into: c, rows: m, n: n, k: k)
            } else {
                try session.multiply(a: bufferA, b: bufferB, c: c, m: m, n: n, k: k, output: output, bias: biasBuffer,
                                     transposeA: transposeA, transposeB: transposeB)
            }
        }
        try multiply()
        try gpu.synchronize()
        let samples = (0..<512).map { _ in (Int(rng.next() % UInt64(m)), Int(rng.next() % UInt64(n))) }
        var result: [Double] = [], expected: [Double] = []
        // float32 accumulation over k terms: allow 1e-4 of the sum of |terms| (about k·2⁻²⁴ per
        // term, with margin); a bfloat16 output adds its own rounding.
        var bound = 0.0
        let values: [Double] = output == .float32 ? try c.download(Float.self, count: m * n).map(Double.init)
                                                  : try c.download(UInt16.self, count: m * n).map(Self.value)
        for (i, j) in samples {
            var dot = bias ? biasValues.values[j] : 0, magnitude = 0.0
            for p in 0..<k {
                let term = a.values[transposeA ? p * m + i : i * k + p] * b.values[transposeB ? j * k + p : p * n + j]
                dot += term
                magnitude += abs(term)
            }
            expected.append(dot)
            result.append(values[i * n + j])
            bound = max(bound, 1e-4 * magnitude + (output == .bfloat16 ? Self.bf16Tolerance * abs(dot) : 0))
        }
        let operands = (transposeA ? "(\(k)×\(m))ᵀ" : "\(m)×\(k)") + " · " + (transposeB ? "(\(n)×\(k))ᵀ" : "\(k)×\(n)")
        let name = skinny ? "skinny bf16 product" : "cublasLt bf16 GEMM"
        record(name, operands + "\(bias ? " + bias" : "") → \(output == .float32 ? "f32" : "bf16"), 512 samples",
               gpu: result, reference: expected, absolute: bound)
        guard let timedRepeats else { return }
        let seconds = try gpu.meanSeconds(of: timedRepeats, multiply)
        // Bytes each product must move at least: its operands once and its result.
        let bytes = Double(2 * (m * k + n * k) + (output == .float32 ? 4 : 2) * m * n)
        timings.append(String(format: "%@ %d×%d×%d: %.1f TFLOP/s, %.0f GB/s (%.3f ms, mean of %d)", name, m, n, k,
                              2 * Double(m) * Double(n) * Double(k) / seconds / 1e12, bytes / seconds / 1e9, seconds * 1e3, timedRepeats))
    }
}
