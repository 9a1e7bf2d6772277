import Bench
import CUDA
import CUDATransformer
import Generator
import MedtuneCore
import Transformer

/// `bench gpu --model-check`: the GPU Qwen2 against the CPU one. A small random model (bf16
/// weights, so both read the same values) generates greedily from a left-padded batch through
/// the real `TokenGenerator` on each backend, without and with LoRA adapters.
struct GPUModelCheck {
    let kernels: CUDAKernels
    let blas: CuBLASLt.Session
    var failures: [String] = []

    /// bfloat16 activations against float32 ones: the largest logit difference may be this much
    /// of the logit range, and the top-1 token must agree on this share of the steps.
    static let relativeTolerance = 2e-2, agreement = 0.95
    static let newTokens = 16

    /// Records the logits of every pass; with `forced` ids ([sequence][step]), decodes those
    /// instead of the generator's own choice, so that both backends see the same inputs.
    final class Probe<Model: DecodingModel>: DecodingModel where Model.Element == Float {
        let model: Model
        let forced: [[Int32]]?
        var logits: [Tensor<Float>] = []

        init(_ model: Model, forced: [[Int32]]?) {
            self.model = model
            self.forced = forced
        }

        var vocabulary: Int { model.vocabulary }
        func makeCache(batch: Int, capacity: Int) -> Model.Cache { model.makeCache(batch: batch, capacity: capacity) }

        func prefill(_ tokens: [Int32], pass: ForwardPass, cache: Model.Cache) -> Tensor<Float> {
            record(model.prefill(tokens, pass: pass, cache: cache))
        }

        func decode(_ tokens: [Int32], pass: ForwardPass, cache: Model.Cache) -> Tensor<Float> {
            let step = logits.count - 1
            return record(model.decode(forced.map { $0.map { $0[step] } } ?? tokens, pass: pass, cache: cache))
        }

        private func record(_ result: Tensor<Float>) -> Tensor<Float> {
            logits.append(result)
            return result
        }
    }

    /// Greedy generation of `newTokens` through the real `TokenGenerator`, with the logits of
    /// every pass (the prompt pass first).
    static func generate<Model: DecodingModel>(_ model: Model, _ prompts: [[Int32]], useAdapter: Bool, forced: [[Int32]]? = nil,
                                               newTokens: Int = newTokens) -> (ids: [[Int32]], logits: [Tensor<Float>])
        where Model.Element == Float {
        let probe = Probe(model, forced: forced)
        var options = SamplingOptions()
        options.maxNewTokens = newTokens
        let results = TokenGenerator(model: probe, endOfSequence: [], padID: 0).generate(prompts: prompts, options: options, useAdapter: useAdapter)
        return (results.map(\.ids), probe.logits)
    }

    /// The checks' model: three layers of Qwen2 of head dimension 64, untied (bf16 weights, so
    /// that both backends read the same values).
    static var smallShape: TrainingStepBenchmark.Shape {
        var shape = TrainingStepBenchmark.Shape.qwen25HalfB
        (shape.vocabulary, shape.hidden, shape.layers, shape.heads, shape.kvHeads, shape.intermediate) = (2048, 512, 3, 8, 2, 1408)
        shape.tiedEmbeddings = false
        return shape
    }

    mutating func run() throws {
        let shape = Self.smallShape
        let cpu = try TrainingStepBenchmark.randomModel(shape, storage: .bf16, seed: 7)
        var rng = SplitMix64(seed: 11)
        let prompts = [11, 5, 8].map { length in (0..<length).map { _ in Int32(1 + rng.next() % UInt64(shape.vocabulary - 1)) } }
        print("model check: \(shape.summary); prompts of \(prompts.map(\.count)) tokens, left-padded; \(Self.newTokens) greedy tokens")

        let base = try CUDAQwen2Model(cpu, kernels: kernels, blas: blas)
        let baseRun = try compare("base", cpu: cpu, gpu: base, prompts, useAdapter: false)

        // Random non-zero adapters on q, v and down of every layer.
        Self.attachRandomAdapters(to: cpu, targets: [.q, .v, .down], rng: &rng)
        let tuned = try CUDAQwen2Model(cpu, kernels: kernels, blas: blas)
        let tunedRun = try compare("LoRA q/v/down", cpu: cpu, gpu: tuned, prompts, useAdapter: true)
        let moved = zip(baseRun.logits, tunedRun.logits).map { Self.maxDifference($0.buffer, $1.buffer) }.max() ?? 0
        print(String(format: "adapters move the GPU logits by up to %.3g", moved))
        if moved == 0 { failures.append("the adapters did not change the GPU logits") }

        // Switched off, the adapted model must be the base model exactly.
        let off = Self.generate(tuned, prompts, useAdapter: false, forced: baseRun.forced)
        try tuned.checkFailure()
        let identical = off.logits.count == baseRun.logits.count && zip(off.logits, baseRun.logits).allSatisfy { $0.array == $1.array }
        print("adapter off on the GPU vs a GPU model never given one: " + (identical ? "bit-identical" : "DIFFERENT"))
        if !identical { failures.append("adapter-off logits differ from the base model's") }
    }

    /// Attaches adapters of rank 8 whose A and B are both random (PEFT starts B at zero), so
    /// that they change the model's output and every one of their gradients is non-zero.
    static func attachRandomAdapters(to model: Qwen2Model<Float>, targets: [Projection], dropout: Double = 0, rng: inout SplitMix64) {
        model.attach(model.sites.filter { targets.contains($0.projection) }.map { site -> (site: AdapterSite, adapter: LoRAAdapter<Float>) in
            let (inFeatures, outFeatures) = model.features(site)
            func random(_ dims: [Int], _ bound: Float) -> Tensor<Float> {
                Tensor(dims, (0..<dims.reduce(1, *)).map { _ in (rng.nextFloat() * 2 - 1) * bound })
            }
            let rank = 8
            return (site, LoRAAdapter(a: random([rank, inFeatures], 1 / Float(inFeatures).squareRoot()),
                                      b: random([outFeatures, rank], 0.5 / Float(rank).squareRoot()), alpha: 16, dropout: dropout))
        })
    }

    /// Generates on both backends, the GPU once freely and once fed the CPU's tokens; records the
    /// largest logit difference of each pass relative to its logit range and the top-1 agreement.
    /// Returns the GPU's forced logits and the CPU's tokens that forced them.
    mutating func compare(_ label: String, cpu: Qwen2Model<Float>, gpu: CUDAQwen2Model, _ prompts: [[Int32]], useAdapter: Bool) throws
        -> (logits: [Tensor<Float>], forced: [[Int32]]) {
        let reference = Self.generate(cpu, prompts, useAdapter: useAdapter)
        let free = Self.generate(gpu, prompts, useAdapter: useAdapter)
        let forced = Self.generate(gpu, prompts, useAdapter: useAdapter, forced: reference.ids)
        try gpu.checkFailure()
        let vocabulary = cpu.vocabulary, batch = prompts.count
        var relative: [Double] = [], agreeing = 0, total = 0, nearTies = 0
        for (r, g) in zip(reference.logits, forced.logits) {
            var worst = 0.0
            for b in 0..<batch {
                let rows = b * vocabulary..<(b + 1) * vocabulary
                let cpuRow = r.buffer[rows], gpuRow = g.buffer[rows]
                let range = Double(cpuRow.max()! - cpuRow.min()!)
                worst = max(worst, Self.maxDifference(cpuRow, gpuRow) / max(range, .leastNormalMagnitude))
                // The GPU's logits are rounded to bfloat16: where the CPU's two best are within one
                // bfloat16 step of each other, that rounding alone may pick either.
                let top = cpuRow.sorted(by: >).prefix(2)
                if Double(top.first! - top.last!) <= GPUReferenceCheck.bfloat16Step(Double(top.first!)) {
                    nearTies += 1
                    continue
                }
                agreeing += Self.argmax(cpuRow) == Self.argmax(gpuRow) ? 1 : 0
                total += 1
            }
            relative.append(worst)
        }
        let decodeWorst = relative.dropFirst().enumerated().max { $0.element < $1.element }
        let share = Double(agreeing) / Double(max(total, 1))
        let divergence = (0..<Self.newTokens).first { s in zip(free.ids, reference.ids).contains { $0.count <= s || $1.count <= s || $0[s] != $1[s] } }
        print("\(label): " + String(format: "prefill max|Δlogit|/range %.2e; decode worst %.2e (step %d of %d); top-1 agreement %d/%d (%d near-ties left out); greedy ids ",
                            relative.first ?? .nan, decodeWorst?.element ?? 0, (decodeWorst?.offset ?? 0) + 1, relative.count - 1,
                            agreeing, total, nearTies)
                     + (divergence.map { "first differ at step \($0 + 1)" } ?? "identical"))
        let overall = relative.max() ?? .infinity
        if !(overall <= Self.relativeTolerance) {
            failures.append("\(label): " + String(format: "logits differ by %.2e of their range (tolerance %.0e)", overall, Self.relativeTolerance))
        }
        if share < Self.agreement { failures.append("\(label): top-1 agreement \(agreeing)/\(total) below \(Int(Self.agreement * 100))%") }
        return (forced.logits, reference.ids)
    }

    static func maxDifference<C: Collection>(_ a: C, _ b: C) -> Double where C.Element == Float {
        zip(a, b).reduce(0) { worst, pair in
            // A NaN counts as an infinite difference, not as none.
            let d = Double(abs(pair.0 - pair.1))
            return d.isNaN ? .infinity : max(worst, d)
        }
    }

    static func argmax<C: Collection>(_ row: C) -> C.Index where C.Element == Float {
        row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
    }
}
