import Foundation
import MedtuneCore

/// bert_score's rescaling baseline: a CSV file with header `LAYER,P,R,F` and one row per layer,
/// giving the mean score of unrelated sentence pairs. A score `x` becomes `(x − b)/(1 − b)`, which
/// spreads the usual 0.8–1.0 range of raw scores over something readable. bert_score's wheel ships
/// these files as `bert_score/rescale_baseline/<lang>/<model>.tsv` (despite the name they are
/// comma-separated); medtune reads any such file given by path.
public struct RescaleBaseline: Equatable, Sendable {
    public let path: String
    /// P, R, F baselines by row; bert_score picks the row by position (`iloc[num_layers]`).
    public let rows: [PRF]

    public init(path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw InputError(file: path, "cannot read the rescale baseline: \(error.localizedDescription)")
        }
        try self.init(csv: text, path: path)
    }

    public init(csv text: String, path: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        guard let header = lines.first,
              header.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).dropFirst() == ["P", "R", "F"] else {
            throw InputError(file: path, at: "line 1", "expected the header LAYER,P,R,F of a bert_score baseline file")
        }
        var rows: [PRF] = []
        for (index, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard fields.count == 4, let p = fields[1], let r = fields[2], let f = fields[3] else {
                throw InputError(file: path, at: "line \(index + 2)", "expected four numbers: layer, P, R, F")
            }
            rows.append(PRF(precision: p, recall: r, f1: f))
        }
        self.path = path
        self.rows = rows
    }

    /// The baseline for hidden layer `layer`.
    public func baseline(layer: Int) throws -> PRF {
        guard rows.indices.contains(layer) else {
            throw InputError(file: path, "has baselines for layers 0...\(rows.count - 1), not for layer \(layer)")
        }
        return rows[layer]
    }

    /// `(x − b)/(1 − b)` for each of P, R, F, computed in single precision as bert_score does.
    public static func rescale(_ score: PRF, by b: PRF) -> PRF {
        func r(_ x: Double, _ b: Double) -> Double {
            let x32 = Float(x), b32 = Float(b)
            return Double((x32 - b32) / (1 - b32))
        }
        return PRF(precision: r(score.precision, b.precision), recall: r(score.recall, b.recall), f1: r(score.f1, b.f1))
    }
}
