import Dispatch
import Foundation
import MedtuneCore
import XCTest

/// Every region of a worker team covers its range exactly once, however its chunks fall between
/// the threads, back to back, nested and from several callers at once.
@available(macOS 15, *)
final class WorkerTeamTests: XCTestCase {
    func testEveryIndexRunsExactlyOnce() {
        let team = WorkerTeam(workers: 3, patience: .microseconds(50))
        for count in [0, 1, 2, 7, 64, 1000, 4099] {
            for grain in [1, 3, 100, 5000] {
                let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0)
                team.forRanges(count, grain: grain) { range in
                    for i in range { hits[i] += 1 }
                }
                XCTAssertTrue(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count), grain \(grain)")
                hits.deallocate()
            }
        }
    }

    /// Regions after the workers have gone to sleep wake them; a region started inside a chunk,
    /// or by a second caller while one runs, runs whole on its own thread.
    func testSleepingNestedAndConcurrentRegions() {
        let team = WorkerTeam(workers: 2, patience: .microseconds(10))
        let total = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        total.initialize(repeating: 0, count: 64)
        defer { total.deallocate() }
        for round in 0..<20 {
            if round % 5 == 0 { Thread.sleep(forTimeInterval: 0.002) }
            team.forRanges(64, grain: 1) { outer in
                for i in outer {
                    team.forRanges(10, grain: 1) { inner in total[i] += inner.count }
                }
            }
        }
        XCTAssertTrue((0..<64).allSatisfy { total[$0] == 200 })

        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        sums.initialize(repeating: 0, count: 4)
        defer { sums.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            for _ in 0..<50 {
                let parts = UnsafeMutablePointer<Int>.allocate(capacity: 100)
                parts.initialize(repeating: 0, count: 100)
                team.forRanges(100, grain: 7) { range in
                    for i in range { parts[i] = i }
                }
                sums[caller] += (0..<100).reduce(0) { $0 + parts[$1] }
                parts.deallocate()
            }
        }
        XCTAssertTrue((0..<4).allSatisfy { sums[$0] == 50 * 4950 })
    }
}
