import Foundation

/// Notices a run that has diverged without producing a NaN: an absurd learning rate wrecks the
/// adapter, and the loss jumps to about ln(vocabulary) — what a model that predicts nothing
/// scores — or beyond, and stays there. One warning per run, so that the user stops it early.
struct DivergenceWatch {
    let uniformLoss: Double
    /// Steps in a row at that level before the warning, so that one bad batch does not raise it.
    static let patience = 3
    private var bestLoss = Double.infinity
    private var stepsAtUniform = 0
    private var warned = false

    init(vocabulary: Int) { uniformLoss = log(Double(max(vocabulary, 2))) }

    mutating func observe(loss: Double, step: Int) -> String? {
        guard !warned, loss.isFinite else { return nil }
        bestLoss = min(bestLoss, loss)
        // Only a jump counts: a model that starts near uniform (random weights) is not diverging.
        guard loss >= 0.9 * uniformLoss, bestLoss < 0.75 * uniformLoss else {
            stepsAtUniform = 0
            return nil
        }
        stepsAtUniform += 1
        guard stepsAtUniform >= Self.patience else { return nil }
        warned = true
        return String(format: "warning: step %d: the loss has been %.2f or more for %d steps, up from %.2f; ln(vocabulary) = %.2f is what predicting nothing scores, so training has diverged (lower learning_rate)",
                      step, 0.9 * uniformLoss, stepsAtUniform, bestLoss, uniformLoss)
    }
}
