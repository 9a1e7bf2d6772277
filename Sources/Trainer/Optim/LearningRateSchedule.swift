import Foundation

/// The learning rate of each optimiser step, exactly as HF transformers'
/// get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup (half a cosine) /
/// get_constant_schedule_with_warmup give it: base × λ(step), step counted from 0.
public struct LearningRateSchedule: Equatable, Sendable {
    public var kind: TrainingConfig.ScheduleKind
    public var base: Double
    public var warmup: Int
    public var total: Int

    public init(kind: TrainingConfig.ScheduleKind, base: Double, warmup: Int, total: Int) {
        self.kind = kind; self.base = base; self.warmup = warmup; self.total = total
    }

    /// Warm-up steps from a count, or else a fraction of all steps rounded up (HF's rule).
    public static func warmupSteps(count: Int, ratio: Double, total: Int) -> Int {
        count > 0 ? count : Int((Double(total) * ratio).rounded(.up))
    }

    public func rate(at step: Int) -> Double { base * factor(step) }

    func factor(_ step: Int) -> Double {
        if step < warmup { return Double(step) / Double(max(1, warmup)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(total - step) / Double(max(1, total - warmup)))
        case .cosine:
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
