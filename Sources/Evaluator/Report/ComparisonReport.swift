import Foundation

/// One evaluation question: the base and the LoRA model's answers and their scores.
public struct QuestionComparison: Sendable, Codable {
    /// Index of the record in the data file (0-based).
    public var record: Int
    public var question: String
    public var reference: String
    public var baseAnswer: String
    public var tunedAnswer: String
    public var base: PairMetrics
    public var tuned: PairMetrics

    public init(record: Int, question: String, reference: String, baseAnswer: String, tunedAnswer: String,
                base: PairMetrics, tuned: PairMetrics) {
        self.record = record
        self.question = question
        self.reference = reference
        self.baseAnswer = baseAnswer
        self.tunedAnswer = tunedAnswer
        self.base = base
        self.tuned = tuned
    }
}

/// The tutorial's evaluation and what it can and cannot conclude: mean BERTScore F1 of the base
/// and the LoRA model (the tutorial's line), 95% bootstrap intervals, the share of questions that
/// improved and a paired sign-flip permutation test, for BERTScore F1, ROUGE-L and chrF.
public struct ComparisonReport: Sendable, Codable {
    public var hash: String
    public var questions: [QuestionComparison]
    public var bertScoreF1: PairedComparison
    public var rougeL: PairedComparison
    public var chrF: PairedComparison

    public init(hash: String, questions: [QuestionComparison], resamples: Int = 10_000, seed: UInt64 = 0) {
        self.hash = hash
        self.questions = questions
        func compare(_ metric: (PairMetrics) -> Double) -> PairedComparison {
            PairedComparison(base: questions.map { metric($0.base) }, tuned: questions.map { metric($0.tuned) },
                             resamples: resamples, seed: seed)
        }
        bertScoreF1 = compare { $0.bertScore.f1 }
        rougeL = compare { $0.rougeL.f }
        chrF = compare { $0.chrF }
    }

    /// The tutorial's own output line.
    public var tutorialLine: String {
        "BERTScore | 原始模型: \(fixed(bertScoreF1.base.mean, 4)) | LoRA模型: \(fixed(bertScoreF1.tuned.mean, 4))"
    }

    /// Summary table, then the verdict on BERTScore F1.
    public func table() -> String {
        var lines = [pad("metric", 13) + pad("base [95% CI]", 26) + pad("LoRA [95% CI]", 26) + pad("LoRA − base [95% CI]", 29)
                     + pad("improved", 10) + pad("p", 8)]
        for (name, c, digits) in metrics {
            func interval(_ m: MeanInterval) -> String { "\(fixed(m.mean, digits)) [\(fixed(m.low, digits)), \(fixed(m.high, digits))]" }
            lines.append(pad(name, 13) + pad(interval(c.base), 26) + pad(interval(c.tuned), 26) + pad(interval(c.difference), 29)
                         + pad("\(c.improved)/\(c.count)", 10) + pad(String(format: "%.3g", c.test.pValue), 8))
        }
        lines.append("BERTScore F1: " + bertScoreF1.verdict())
        lines.append("p: two-sided paired sign-flip permutation test of the mean difference"
                     + (bertScoreF1.test.exact ? " (exact, all \(bertScoreF1.test.permutations) sign patterns)"
                                               : " (\(bertScoreF1.test.permutations) random sign patterns)")
                     + "; intervals: percentile bootstrap of the mean")
        lines.append("settings: \(hash)")
        return lines.joined(separator: "\n")
    }

    private var metrics: [(String, PairedComparison, Int)] {
        [("BERTScore F1", bertScoreF1, 4), ("ROUGE-L F", rougeL, 4), ("chrF", chrF, 2)]
    }

    public func json() throws -> Data { try ReportJSON.encode(self) }

    /// One row per question (RFC 4180 quoting).
    public func csv() -> String {
        let header = ["record", "question", "reference", "base_answer", "lora_answer",
                      "base_bertscore_p", "base_bertscore_r", "base_bertscore_f1",
                      "lora_bertscore_p", "lora_bertscore_r", "lora_bertscore_f1",
                      "base_rougeL_f", "lora_rougeL_f", "base_chrF", "lora_chrF"]
        var rows = [header.joined(separator: ",")]
        for q in questions {
            let fields = [String(q.record), q.question, q.reference, q.baseAnswer, q.tunedAnswer,
                          "\(q.base.bertScore.precision)", "\(q.base.bertScore.recall)", "\(q.base.bertScore.f1)",
                          "\(q.tuned.bertScore.precision)", "\(q.tuned.bertScore.recall)", "\(q.tuned.bertScore.f1)",
                          "\(q.base.rougeL.f)", "\(q.tuned.rougeL.f)", "\(q.base.chrF)", "\(q.tuned.chrF)"]
            rows.append(fields.map(csvField).joined(separator: ","))
        }
        return rows.joined(separator: "\r\n") + "\r\n"
    }

    /// The summary and every question with both answers.
    public func markdown() -> String {
        var out = ["# Base vs LoRA", "", "`\(tutorialLine)`", "",
                   "| metric | base [95% CI] | LoRA [95% CI] | LoRA − base [95% CI] | improved | p |",
                   "|---|---|---|---|---|---|"]
        for (name, c, digits) in metrics {
            func interval(_ m: MeanInterval) -> String { "\(fixed(m.mean, digits)) [\(fixed(m.low, digits)), \(fixed(m.high, digits))]" }
            out.append("| \(name) | \(interval(c.base)) | \(interval(c.tuned)) | \(interval(c.difference)) | \(c.improved)/\(c.count) | \(String(format: "%.3g", c.test.pValue)) |")
        }
        out += ["", "BERTScore F1: \(bertScoreF1.verdict())", "", "Settings: `\(hash)`", ""]
        for q in questions {
            out += ["## Record \(q.record)", "", "**Question.** \(q.question)", "", "**Reference.** \(q.reference)", "",
                    "**Base** (F1 \(fixed(q.base.bertScore.f1, 4)), ROUGE-L \(fixed(q.base.rougeL.f, 4)), chrF \(fixed(q.base.chrF, 2))): \(q.baseAnswer)", "",
                    "**LoRA** (F1 \(fixed(q.tuned.bertScore.f1, 4)), ROUGE-L \(fixed(q.tuned.rougeL.f, 4)), chrF \(fixed(q.tuned.chrF, 2))): \(q.tunedAnswer)", ""]
        }
        return out.joined(separator: "\n")
    }
}

func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
