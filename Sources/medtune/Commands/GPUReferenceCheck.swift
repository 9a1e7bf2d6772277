import CUDA
import Bench
import CUDATransformer
import Foundation
import MedtuneCore
import Transformer

/// `bench gpu --reference FOLDER`: medtune's GPU model against HF transformers on the same GPU,
/// from what `scripts/peers/hf_gpu_reference.py` wrote there: a random Qwen2 (`model/`, float32
/// safetensors), a non-zero PEFT adapter on q/v/down (`adapter/`), and `reference.json` with HF's
/// figures.
///
/// - float32 (TF32 off on both sides): the last-position logits of three prompts, run by medtune
///   as one left-padded batch and by HF one by one, within 1e-3; 32 greedy tokens identical; base
///   and with the adapter; and the adapter switched off bit-identical to a model never given one.
/// - bfloat16: teacher-forced over each prompt and its greedy continuation, the top-1 token agrees
///   with HF bf16 at ≥ 99% of the positions and the mean NLL is within 1e-2. Positions where HF's
///   own two largest bf16 logits are at most one bf16 step apart have no top-1 to agree with (HF's
///   order there comes from its kernels' rounding, or from argmax taking the lower index of a
///   tie): they are counted apart and left out of the share.
struct GPUReferenceCheck {
    let folder: URL
    let device: DeviceChoice
    var failures: [String] = []

    static let logitTolerance = 1e-3, agreement = 0.99, nllTolerance = 1e-2

    struct Reference: Decodable {
        struct Float32Run: Decodable {
            var last_logits: String
            var greedy: [[Int32]]
        }
        struct BFloat16Run: Decodable {
            var sequences: [[Int32]]
            var top1: [[Int32]]
            /// HF's bf16 top-1 minus top-2 logit: 0 where the two largest tie.
            var top2_margin: [[Double]]
            var nll: [[Double]]
        }
        var shape: String
        var vocab_size: Int
        var new_tokens: Int
        var prompts: [[Int32]]
        var float32: [String: Float32Run]
        var bfloat16: [String: BFloat16Run]
    }

    static let variants = ["base", "lora"]

    /// The spacing of bfloat16 values (8 significant bits) around `value`.
    static func bfloat16Step(_ value: Double) -> Double {
        value == 0 ? 0 : pow(2, (log2(abs(value))).rounded(.down) - 7)
    }

    /// Whether the bfloat16 half runs (off: the float32 checks alone).
    let bfloat16: Bool

    init(folder: URL, device: DeviceChoice, bfloat16: Bool = true) {
        self.folder = folder
        self.device = device
        self.bfloat16 = bfloat16
    }

    mutating func run() throws {
        let file = folder.appendingPathComponent("reference.json")
        let reference: Reference
        do {
            reference = try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: file))
        } catch {
            throw InputError(file: file.path, "not a reference written by scripts/peers/hf_gpu_reference.py (\(SystemError.reason(of: error)))")
        }
        let modelPath = folder.appendingPathComponent("model").path
        let tuned = try Qwen2Model<Float>.load(path: modelPath).model
        _ = try PEFTAdapter.load(folder.appendingPathComponent("adapter").path, into: tuned)
        guard tuned.vocabulary == reference.vocab_size else {
            throw InputError(file: file.path, "vocab_size \(reference.vocab_size), but the model has \(tuned.vocabulary)")
        }
        print("reference: \(reference.shape) shapes (\(tuned.layers.count) layers, hidden \(tuned.hiddenSize), vocabulary \(tuned.vocabulary)); "
              + "prompts of \(reference.prompts.map(\.count)) tokens, left-padded into one batch; \(reference.new_tokens) greedy tokens")
        print(tableCell("check", 54) + tableCell("measured", 16) + tableCell("bound", 12) + "result")

        // float32
        guard let gpu = try DeviceOptions.openGPU(device, storage: .float32) else { return }
        let exact = try CUDAQwen2Model(tuned, kernels: gpu.kernels, blas: gpu.blas)
        var baseRun: (ids: [[Int32]], logits: [Tensor<Float>])?
        for variant in Self.variants {
            guard let expected = reference.float32[variant] else { throw InputError(file: file.path, "no float32.\(variant)") }
            let run = GPUModelCheck.generate(exact, reference.prompts, useAdapter: variant == "lora", newTokens: reference.new_tokens)
            try exact.checkFailure()
            if variant == "base" { baseRun = run }
            let hf = try Self.floats(folder.appendingPathComponent(expected.last_logits), count: reference.prompts.count * reference.vocab_size)
            let difference = GPUModelCheck.maxDifference(Array(run.logits[0].buffer), hf)
            report("float32 \(variant): last-position logits, max |Δ| vs HF fp32", difference, bound: Self.logitTolerance, passed: difference <= Self.logitTolerance)
            let same = zip(run.ids, expected.greedy).filter { $0 == $1 }.count
            report("float32 \(variant): \(reference.new_tokens) greedy ids identical to HF fp32", Double(same), bound: Double(expected.greedy.count),
                   passed: same == expected.greedy.count && run.ids.count == expected.greedy.count, format: "%.0f of")
        }
        // The adapter switched off against a model that never had one, on the same GPU.
        let plain = try Qwen2Model<Float>.load(path: modelPath).model
        let never = GPUModelCheck.generate(try CUDAQwen2Model(plain, kernels: gpu.kernels, blas: gpu.blas), reference.prompts, useAdapter: false,
                                           newTokens: reference.new_tokens)
        let identical = baseRun.map { run in run.ids == never.ids && zip(run.logits, never.logits).allSatisfy { $0.array == $1.array } } ?? false
        report("float32: adapter off vs a model never given one (bit-identical)", identical ? 0 : 1, bound: 0, passed: identical)

        // bfloat16
        guard bfloat16, let fast = try DeviceOptions.openGPU(device, storage: .bfloat16) else { return }
        let model = try CUDAQwen2Model(tuned, kernels: fast.kernels, blas: fast.blas)
        for variant in Self.variants {
            guard let expected = reference.bfloat16[variant] else { throw InputError(file: file.path, "no bfloat16.\(variant)") }
            var agreeing = 0, decided = 0, positions = 0, ours = 0.0, theirs = 0.0
            var disagreements: [String] = []
            for (s, sequence) in expected.sequences.enumerated() {
                let rows = Array(0..<sequence.count - 1)
                let logits = try model.logits(sequence, pass: ForwardPass(batch: 1, length: sequence.count, useAdapter: variant == "lora"), rows: rows)
                for t in rows {
                    let row = logits.buffer[t * model.vocabulary..<(t + 1) * model.vocabulary]
                    let top = GPUModelCheck.argmax(row) - t * model.vocabulary
                    let peak = row.max()!
                    // HF's two largest bf16 logits one bf16 step apart or less were ordered by
                    // rounding alone (its kernels' summation order): no top-1 to agree with.
                    if expected.top2_margin[s][t] > Self.bfloat16Step(Double(peak)) {
                        decided += 1
                        if top == Int(expected.top1[s][t]) {
                            agreeing += 1
                        } else {
                            disagreements.append(String(format: "%.3g", expected.top2_margin[s][t]))
                        }
                    }
                    let logSum = Double(peak) + log(row.reduce(0.0) { $0 + exp(Double($1 - peak)) })
                    ours += logSum - Double(row[t * model.vocabulary + Int(sequence[t + 1])])
                    theirs += expected.nll[s][t]
                    positions += 1
                }
            }
            let share = Double(agreeing) / Double(max(decided, 1))
            report("bfloat16 \(variant): top-1 agreement with HF bf16 (\(agreeing)/\(decided); \(positions - decided) within one bf16 step at HF"
                   + (disagreements.isEmpty ? ")" : "; HF margins where not: \(disagreements.joined(separator: ", ")))"), share,
                   bound: Self.agreement, passed: share >= Self.agreement)
            let gap = abs(ours - theirs) / Double(max(positions, 1))
            report("bfloat16 \(variant): |mean NLL − HF bf16's| (" + String(format: "%.4f vs %.4f", ours / Double(positions), theirs / Double(positions)) + ")",
                   gap, bound: Self.nllTolerance, passed: gap <= Self.nllTolerance)
        }
    }

    private mutating func report(_ check: String, _ measured: Double, bound: Double, passed: Bool, format: String = "%.3g") {
        print(tableCell(check, 54) + tableCell(String(format: format, measured), 16) + tableCell(String(format: "%.3g", bound), 12)
              + (passed ? "pass" : "FAIL"))
        if !passed { failures.append(check) }
    }

    /// `count` little-endian float32 values from a raw file.
    static func floats(_ url: URL, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: url)
        guard data.count == 4 * count else { throw InputError(file: url.path, "holds \(data.count) bytes, not \(count) float32 values") }
        return data.withUnsafeBytes { bytes in (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }
}
