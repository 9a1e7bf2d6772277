import Charts
import Foundation

/// "Did more training help?": the base model (step 0) and every checkpoint of a run answer the
/// same held-out questions, and each gets its mean BERTScore F1 with a 95% bootstrap interval,
/// its ROUGE-L and chrF means, and the validation loss the run logged at that step. The best
/// checkpoint by the chosen metric is named; the base is the reference, never the best.
public struct CheckpointSweep: Sendable, Codable {
    /// What "best" means.
    public enum Metric: String, Sendable, Codable, CaseIterable {
        case bertScoreF1 = "f1"
        case validationLoss = "val_loss"
    }

    /// One model of the sweep.
    public struct Entry: Sendable, Codable {
        /// "base", or the checkpoint's folder name.
        public var name: String
        public var step: Int
        /// The validation loss the run logged at this step, if it logged one.
        public var validationLoss: Double?
        public var bertScoreF1: MeanInterval
        public var rougeL: Double
        public var chrF: Double
        /// Per question, in the order of `records`.
        public var answers: [String]
        public var scores: [PairMetrics]
    }

    public var hash: String
    /// The data file's record indices of the questions (0-based).
    public var records: [Int]
    public var entries: [Entry]
    public var metric: Metric
    /// The checkpoint that does best by `metric`, nil when none has a value for it.
    public var best: String?

    /// `models` in step order, the base first (step 0); `scores[i]` and `answers[i]` per question.
    public init(hash: String, records: [Int], models: [(name: String, step: Int, validationLoss: Double?, answers: [String], scores: [PairMetrics])],
                metric: Metric, resamples: Int = 10_000, seed: UInt64 = 0) {
        self.hash = hash
        self.records = records
        self.metric = metric
        entries = models.map { model in
            func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
            return Entry(name: model.name, step: model.step, validationLoss: model.validationLoss,
                         bertScoreF1: Bootstrap.meanInterval(model.scores.map(\.bertScore.f1), resamples: resamples, seed: seed),
                         rougeL: mean(model.scores.map(\.rougeL.f)), chrF: mean(model.scores.map(\.chrF)),
                         answers: model.answers, scores: model.scores)
        }
        let checkpoints = entries.dropFirst()
        switch metric {
        case .bertScoreF1:
            best = checkpoints.filter { $0.bertScoreF1.mean.isFinite }.max { $0.bertScoreF1.mean < $1.bertScoreF1.mean }?.name
        case .validationLoss:
            best = checkpoints.compactMap { e in e.validationLoss.flatMap { $0.isFinite ? (e.name, $0) : nil } }.min { $0.1 < $1.1 }?.0
        }
    }

    public func table() -> String {
        var lines = [pad("model", 18) + pad("step", 7) + pad("val loss", 10) + pad("BERTScore F1 [95% CI]", 28) + pad("ROUGE-L", 9) + pad("chrF", 8)]
        for e in entries {
            let interval = "\(fixed(e.bertScoreF1.mean, 4)) [\(fixed(e.bertScoreF1.low, 4)), \(fixed(e.bertScoreF1.high, 4))]"
            lines.append(pad(e.name + (e.name == best ? " *" : ""), 18) + pad("\(e.step)", 7) + pad(e.validationLoss.map { fixed($0, 4) } ?? "-", 10)
                         + pad(interval, 28) + pad(fixed(e.rougeL, 4), 9) + pad(fixed(e.chrF, 2), 8))
        }
        let metricName = metric == .bertScoreF1 ? "highest mean BERTScore F1" : "lowest validation loss"
        lines.append(best.map { "best checkpoint (\(metricName)): \($0)" } ?? "no checkpoint has a \(metric == .bertScoreF1 ? "BERTScore" : "validation loss")")
        lines.append("\(records.count) held-out questions; \(hash)")
        return lines.joined(separator: "\n")
    }

    public func json() throws -> Data { try ReportJSON.encode(self) }

    public func csv() -> String {
        var rows = ["model,step,val_loss,bertscore_f1,bertscore_f1_low,bertscore_f1_high,rouge_l,chrf"]
        for e in entries {
            rows.append([csvField(e.name), "\(e.step)", e.validationLoss.map { "\($0)" } ?? "", "\(e.bertScoreF1.mean)", "\(e.bertScoreF1.low)",
                         "\(e.bertScoreF1.high)", "\(e.rougeL)", "\(e.chrF)"].joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    public func markdown() -> String {
        var lines = ["| model | step | val loss | BERTScore F1 [95% CI] | ROUGE-L | chrF |", "|---|---|---|---|---|---|"]
        for e in entries {
            lines.append("| \(e.name)\(e.name == best ? " (best)" : "") | \(e.step) | \(e.validationLoss.map { fixed($0, 4) } ?? "-") | "
                         + "\(fixed(e.bertScoreF1.mean, 4)) [\(fixed(e.bertScoreF1.low, 4)), \(fixed(e.bertScoreF1.high, 4))] | "
                         + "\(fixed(e.rougeL, 4)) | \(fixed(e.chrF, 2)) |")
        }
        return lines.joined(separator: "\n") + "\n\n\(hash)\n"
    }

    static let f1Color = Raster.Color(31, 94, 170)
    static let lossColor = Raster.Color(214, 96, 37)

    /// Two panels over the step: mean BERTScore F1 with its interval, and the validation loss.
    public func chart(title: String) -> ChartColumn {
        let f1 = LineChart(title: title, xLabel: "step", yLabel: "bertscore f1", series: [
            LineChart.Series("mean f1 (95% ci)", color: Self.f1Color, mark: .lineAndDots(2, 4),
                             points: entries.map { LineChart.Point(x: Double($0.step), y: $0.bertScoreF1.mean, low: $0.bertScoreF1.low, high: $0.bertScoreF1.high) }),
        ])
        let loss = LineChart(title: "validation loss", xLabel: "step", yLabel: "loss", series: [
            LineChart.Series("validation loss", color: Self.lossColor, mark: .lineAndDots(2, 4),
                             points: entries.compactMap { e in e.validationLoss.map { LineChart.Point(x: Double(e.step), y: $0) } }),
        ])
        return ChartColumn([f1, loss])
    }
}
