import Dispatch
import Foundation

/// Splits loops over independent items across all cores.
public enum Parallel {
    /// Number of worker threads; the machine's active processor count.
    public static let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint, contiguous sub-ranges that cover `0..<count`.
    /// `grain` is the smallest range worth sending to another thread.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let maxChunks = min(threads * 4, (count + max(grain, 1) - 1) / max(grain, 1))
        if maxChunks <= 1 || threads == 1 {
            body(0..<count)
            return
        }
        let chunk = (count + maxChunks - 1) / maxChunks
        let chunks = (count + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * chunk
            body(start..<min(start + chunk, count))
        }
    }

    /// `forRanges` on the process's `WorkerTeam`, whose threads keep polling between regions: for
    /// code that runs many small regions back to back (a decoding step runs about a hundred),
    /// where waking a sleeping thread for each would cost as much as the work.
    public static func forRangesOnTeam(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if #available(macOS 15, *) {
            WorkerTeam.shared.forRanges(count, grain: grain, body)
        } else {
            forRanges(count, grain: grain, body)
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, in parallel.
    @inlinable
    public static func forEach(_ count: Int, grain: Int = 1, _ body: (Int) -> Void) {
        forRanges(count, grain: grain) { range in
            for i in range { body(i) }
        }
    }
}
