import Dispatch
import Foundation
import Synchronization

/// Worker threads that keep polling for work for a short while after each parallel region, for
/// code that runs many small regions back to back (a decoding step runs about a hundred, of 10 to
/// 300 µs each). Handing a region to a sleeping thread costs a wake-up, which on a virtual machine
/// can take as long as a small region itself; a polling thread picks the next region up at once.
/// After `patience` without work a worker sleeps until the next region.
///
/// Regions are split into chunks that every thread (the caller included) claims one at a time, so
/// a thread that the system takes away only delays its current chunk. One region runs at a time;
/// a region started inside another runs on the calling thread alone.
@available(macOS 15, *)
public final class WorkerTeam: @unchecked Sendable {
    /// The team of the process: one worker per core besides the caller.
    public static let shared = WorkerTeam(workers: Parallel.threads - 1)

    public let workers: Int
    private let patience: UInt64
    /// The current region as one word, so that a chunk is claimed only from the region it
    /// belongs to: its generation (bits 32–63, wrapping), its chunk count (bits 16–31) and the
    /// next chunk to claim (bits 0–15).
    private let ticket = Atomic<UInt64>(0)
    private let finishedChunks = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    // Written by the caller before a region is published, read by workers after claiming a chunk of it.
    private nonisolated(unsafe) var work: ((Int) -> Void)?

    /// `patience`: how long an idle worker keeps polling before it sleeps.
    public init(workers: Int, patience: Duration = .microseconds(200)) {
        self.workers = max(workers, 0)
        let (seconds, attoseconds) = patience.components
        self.patience = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        for _ in 0..<self.workers {
            // Workers serve for the life of the process; a team is made once and kept.
            let thread = Thread { self.serve() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Calls `body` on disjoint, contiguous sub-ranges that cover `0..<count`, in parallel, as
    /// `Parallel.forRanges` does.
    public func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = min((workers + 1) * 4, 0xFFFF, (count + max(grain, 1) - 1) / max(grain, 1))
        guard chunks > 1, workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            body(0..<count)
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        let size = (count + chunks - 1) / chunks
        let used = (count + size - 1) / size
        withoutActuallyEscaping({ (c: Int) in body((c * size)..<min(c * size + size, count)) }) { chunk in
            work = chunk
            finishedChunks.store(0, ordering: .relaxed)
            let generation = ((ticket.load(ordering: .relaxed) >> 32) &+ 1) & 0xFFFF_FFFF
            ticket.store(generation << 32 | UInt64(used) << 16, ordering: .releasing)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                for _ in 0..<workers { wake.signal() }
            }
            runChunks(of: generation)
            while finishedChunks.load(ordering: .acquiring) < used { yieldProcessor() }
            work = nil
        }
    }

    /// Claims and runs chunks of region `generation` until none is left.
    private func runChunks(of generation: UInt64) {
        var current = ticket.load(ordering: .acquiring)
        while current >> 32 == generation, current & 0xFFFF < (current >> 16) & 0xFFFF {
            let (exchanged, original) = ticket.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                work?(Int(current & 0xFFFF))
                finishedChunks.add(1, ordering: .releasing)
                current += 1
            } else {
                current = original
            }
        }
    }

    /// Lets another thread run while this one waits, should one be waiting for the core (on a
    /// loaded machine that may be the very thread being waited for); returns at once otherwise.
    @inline(__always)
    private func yieldProcessor() {
        sched_yield()
    }

    private func serve() {
        var seen: UInt64 = 0
        while true {
            var idleSince = DispatchTime.now().uptimeNanoseconds
            var generation = ticket.load(ordering: .acquiring) >> 32
            while generation == seen {
                if DispatchTime.now().uptimeNanoseconds - idleSince > patience {
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    if ticket.load(ordering: .sequentiallyConsistent) >> 32 == seen { wake.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    idleSince = DispatchTime.now().uptimeNanoseconds
                }
                yieldProcessor()
                generation = ticket.load(ordering: .acquiring) >> 32
            }
            seen = generation
            runChunks(of: generation)
        }
    }
}
