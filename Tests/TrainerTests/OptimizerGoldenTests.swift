import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import XCTest

/// AdamW, SGD, gradient clipping and the learning-rate schedules against PyTorch and HF
/// transformers (scripts/golden/train_optim.py), in float64.
final class OptimizerGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct OptimiserCase: Decodable {
            var options: [String: Value]
            var shapes: [[Int]]
            var start: [Double]
            var grads: [[Double]]
            var learning_rates: [Double]
            var after: [[Double]]
        }
        enum Value: Decodable {
            case number(Double), pair([Double])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .pair(try c.decode([Double].self)) }
            }
            var number: Double { if case .number(let d) = self { return d } else { return .nan } }
            var pair: [Double] { if case .pair(let p) = self { return p } else { return [] } }
        }
        struct ClipCase: Decodable { var max_norm: Double; var shapes: [[Int]]; var grads: [Double]; var norm: Double; var clipped: [Double] }
        struct ScheduleCase: Decodable { var name: String; var base: Double; var total: Int; var warmup: Int; var rates: [Double] }
        struct WarmupCase: Decodable { var total: Int; var ratio: Double; var warmup: Int }
        var adamw: [OptimiserCase]
        var sgd: [OptimiserCase]
        var clip: [ClipCase]
        var schedules: [ScheduleCase]
        var warmup_ratios: [WarmupCase]
    }

    static let golden: Golden = {
        let data = try! Data(contentsOf: TestPaths.golden("Trainer/optim.json"))
        return try! JSONDecoder().decode(Golden.self, from: data)
    }()

    /// Parameters of the given shapes, filled from a flat list.
    func parameters(_ shapes: [[Int]], _ values: [Double]) -> [TrainableParameter<Double>] {
        var offset = 0
        return shapes.enumerated().map { i, shape in
            let count = shape.reduce(1, *)
            defer { offset += count }
            return TrainableParameter(name: "p\(i)", value: Tensor(shape, Array(values[offset..<offset + count])), grad: Tensor(shape))
        }
    }

    func setGrads(_ parameters: [TrainableParameter<Double>], _ values: [Double]) {
        var offset = 0
        for p in parameters {
            for i in 0..<p.grad.count { p.grad[i] = values[offset + i] }
            offset += p.grad.count
        }
    }

    func flat(_ parameters: [TrainableParameter<Double>]) -> [Double] { parameters.flatMap { $0.value.array } }

    func run(_ c: Golden.OptimiserCase, _ optimizer: any Optimizer<Double>) {
        let params = parameters(c.shapes, c.start)
        for k in 0..<c.after.count {
            setGrads(params, c.grads[k])
            optimizer.step(params, learningRate: c.learning_rates[k])
            XCTAssertLessThan(GradientCheck.relativeError(flat(params), c.after[k]), 1e-13, "step \(k + 1) of \(c.options)")
        }
    }

    func testAdamWMatchesPyTorch() {
        XCTAssertEqual(Self.golden.adamw.count, 3)
        for c in Self.golden.adamw {
            let betas = c.options["betas"]!.pair
            run(c, AdamW<Double>(beta1: betas[0], beta2: betas[1], epsilon: c.options["eps"]!.number,
                                 weightDecay: c.options["weight_decay"]!.number))
        }
    }

    func testSGDMatchesPyTorch() {
        XCTAssertEqual(Self.golden.sgd.count, 3)
        for c in Self.golden.sgd {
            run(c, SGD<Double>(momentum: c.options["momentum"]!.number, weightDecay: c.options["weight_decay"]!.number))
        }
    }

    /// The optimiser state written to a checkpoint and restored into a fresh optimiser continues
    /// exactly where the original would have.
    func testOptimizerStateRestoresExactly() throws {
        let c = Self.golden.adamw[1]
        let original = AdamW<Double>(weightDecay: 0.01)
        let params = parameters(c.shapes, c.start)
        for k in 0..<3 { setGrads(params, c.grads[k]); original.step(params, learningRate: c.learning_rates[k]) }
        let restored = AdamW<Double>(weightDecay: 0.01)
        restored.steps = original.steps
        try restored.restore(original.stateTensors().mapValues { $0.array }, parameters: params)
        let copy = parameters(c.shapes, flat(params))
        for k in 3..<6 {
            setGrads(params, c.grads[k]); original.step(params, learningRate: c.learning_rates[k])
            setGrads(copy, c.grads[k]); restored.step(copy, learningRate: c.learning_rates[k])
        }
        XCTAssertEqual(flat(params), flat(copy))
    }

    func testGradientClippingMatchesPyTorch() {
        for c in Self.golden.clip {
            let params = parameters(c.shapes, Array(repeating: 0, count: c.grads.count))
            setGrads(params, c.grads)
            let norm = GradientClipping.clip(params, maxNorm: c.max_norm)
            XCTAssertEqual(norm, c.norm, accuracy: 1e-12 * max(1, c.norm))
            XCTAssertLessThan(GradientCheck.relativeError(params.flatMap { $0.grad.array }, c.clipped), 1e-13)
        }
    }

    func testSchedulesMatchTransformers() {
        XCTAssertEqual(Self.golden.schedules.count, 15)
        for c in Self.golden.schedules {
            let schedule = LearningRateSchedule(kind: TrainingConfig.ScheduleKind(rawValue: c.name)!, base: c.base, warmup: c.warmup, total: c.total)
            for (step, expected) in c.rates.enumerated() {
                XCTAssertEqual(schedule.rate(at: step), expected, accuracy: 1e-15, "\(c.name) total \(c.total) warmup \(c.warmup) step \(step)")
            }
        }
    }

    func testWarmupRatioRoundsUpAsTransformers() {
        for c in Self.golden.warmup_ratios {
            XCTAssertEqual(LearningRateSchedule.warmupSteps(count: 0, ratio: c.ratio, total: c.total), c.warmup)
        }
        XCTAssertEqual(LearningRateSchedule.warmupSteps(count: 5, ratio: 0.5, total: 100), 5)
    }
}
