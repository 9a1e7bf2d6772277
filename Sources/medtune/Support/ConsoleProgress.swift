import Dispatch
import Foundation
import Trainer

/// Progress on the terminal: on a TTY, a bar redrawn after every step (step/total, loss,
/// tokens/s, time left) with logged values printed above it; otherwise plain log lines only.
final class ConsoleProgress: TrainingObserver {
    let interactive: Bool
    let write: (String) -> Void
    private var total = 0
    private var startStep = 0
    private var started: UInt64 = 0
    private var tokens = 0
    private var lastLoss: Double?
    private var barShown = false

    /// Device memory in use, shown beside the rate on a GPU.
    let memory: (() -> (inUse: Int, peak: Int))?

    init(interactive: Bool = isatty(STDOUT_FILENO) != 0, memory: (() -> (inUse: Int, peak: Int))? = nil,
         write: @escaping (String) -> Void = { print($0, terminator: ""); fflush(stdout) }) {
        self.interactive = interactive
        self.memory = memory
        self.write = write
    }

    func started(totalSteps: Int, at step: Int) {
        total = totalSteps
        startStep = step
        started = DispatchTime.now().uptimeNanoseconds
        note(step > 0 ? "resuming at step \(step) of \(totalSteps)" : "training for \(totalSteps) steps")
    }

    func stepped(_ result: StepResult, totalSteps: Int) {
        tokens += result.inputTokens
        lastLoss = result.loss
        guard interactive else { return }
        let done = result.step - startStep
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let left = elapsed / Double(max(done, 1)) * Double(totalSteps - result.step)
        let width = 24, filled = Int(Double(width) * Double(result.step) / Double(max(totalSteps, 1)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = "step \(result.step)/\(totalSteps) \(bar) loss \(Self.number(result.loss)) · "
            + String(format: "%.0f tok/s · ", Double(tokens) / max(elapsed, 1e-9))
            + (memory.map { String(format: "GPU %.1f GiB · ", Double($0().inUse) / Double(1 << 30)) } ?? "")
            + "\(Self.duration(left)) left"
        write("\r\u{1B}[2K" + line)
        barShown = true
    }

    func logged(_ record: MetricsRecord) {
        var parts = ["step \(record.step)/\(total)", String(format: "epoch %.2f", record.epoch)]
        if let loss = record.loss { parts.append("loss \(Self.number(loss))") }
        if let valLoss = record.valLoss { parts.append("val_loss \(Self.number(valLoss))") }
        if let rate = record.learningRate { parts.append(String(format: "lr %.3g", rate)) }
        if let norm = record.gradNorm { parts.append(String(format: "grad_norm %.3f", norm)) }
        if let speed = record.tokensPerSecond { parts.append(String(format: "%.0f tok/s", speed)) }
        note(parts.joined(separator: "  "))
    }

    func note(_ message: String) {
        write((barShown ? "\r\u{1B}[2K" : "") + message + "\n")
        barShown = false
    }

    static func number(_ value: Double) -> String { String(format: "%.4f", value) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
