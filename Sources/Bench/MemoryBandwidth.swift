import CKernels
import Dispatch
import MedtuneCore

/// The memory read bandwidth that every core reading at once reaches: the best of a few passes
/// over a buffer eight times the last-level cache sizes of today's servers (256 MiB), split over
/// the worker team that decoding uses, so that bandwidth-bound work can be set against it.
public enum MemoryBandwidth {
    /// Bytes per second, over `passes` timed reads.
    public static func measure(bytes: Int = 256 << 20, passes: Int = 5) -> Double {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 1)
        let lines = bytes / 64
        var best = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            Parallel.forRangesOnTeam(lines, grain: lines / Parallel.threads) { range in
                // Checking the sum (of ones, never zero) keeps the read from being optimized away.
                precondition(medtune_sum_words(buffer.baseAddress! + range.lowerBound * 64, range.count * 64) != 0)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Double(bytes) / best
    }
}
