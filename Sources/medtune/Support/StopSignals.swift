import Dispatch
import Foundation
import Trainer

/// Ctrl-C, and what `timeout`, Slurm and a closed terminal send (SIGTERM, SIGHUP), as a request:
/// the first one raises a flag the training loop reads between steps (it then writes a checkpoint
/// and stops); a second one exits at once — except while a checkpoint is being written, which
/// finishes first so that no half-swapped checkpoint is left behind.
final class StopSignals: StopRequest, @unchecked Sendable {
    static let handled = [SIGINT, SIGTERM, SIGHUP]

    private let lock = NSLock()
    private var received: Int32?
    private var exitPending = false
    /// Set when a second signal has decided to exit: `exit` runs its cleanup while the other
    /// threads go on, so from then on no checkpoint write may start (it could be cut in half).
    private var exiting = false
    private var shieldDepth = 0
    private var sources: [DispatchSourceSignal] = []

    func install(onFirst: @escaping @Sendable (Int32) -> Void) {
        for number in Self.handled {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.receive(number, onFirst: onFirst) }
            source.resume()
            sources.append(source)
        }
    }

    private func receive(_ number: Int32, onFirst: (Int32) -> Void) {
        lock.lock()
        let again = received != nil
        if !again { received = number }
        let shielded = shieldDepth > 0
        if again && shielded { exitPending = true }
        if again && !shielded { exiting = true }
        lock.unlock()
        if again && !shielded { exit(Self.exitStatus(number)) }
        if !again { onFirst(number) }
    }

    /// The signal that asked the run to stop, if one did.
    var signalReceived: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    var isRaised: Bool { signalReceived != nil }

    func shielding<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        if exiting {
            lock.unlock()
            // The process is ending: wait for it rather than begin a write it would cut short.
            while true { pause() }
        }
        shieldDepth += 1
        lock.unlock()
        defer {
            lock.lock()
            shieldDepth -= 1
            let leave = shieldDepth == 0 && exitPending
            let number = received ?? SIGINT
            lock.unlock()
            if leave { exit(Self.exitStatus(number)) }
        }
        return try body()
    }

    /// The shell's convention for a process ended by a signal: 128 + its number (130 for SIGINT,
    /// 143 for SIGTERM, 129 for SIGHUP).
    static func exitStatus(_ number: Int32) -> Int32 { 128 + number }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: return "Ctrl-C"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }
}
