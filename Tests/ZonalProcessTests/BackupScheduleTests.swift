import Foundation
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalProcess

@Suite("Backup schedule")
struct BackupScheduleTests {
    /// A schedule whose wall clock moves with its virtual clock.
    static func schedule(interval: Duration, on clock: VirtualClock, retryDelay: Duration = .seconds(60)) -> BackupSchedule {
        let epoch = Date(timeIntervalSince1970: 1_000_000)
        return BackupSchedule(
            timetable: BackupTimetable(interval: interval, retryDelay: retryDelay), clock: clock,
            wallClock: { epoch.addingTimeInterval(Double(clock.now.nanoseconds) / 1e9) })
    }

    @Test("runs at once when never run, then once per interval; a failure is retried after the retry delay; each outcome is handed on")
    func runsOnTimetable() async {
        let clock = VirtualClock()
        let schedule = Self.schedule(interval: .seconds(3600), on: clock)
        let runs = Mutex<[Int64]>([])  // seconds on the virtual clock at each run
        let outcomes = Mutex<[BackupSchedule.Outcomes]>([])
        let task = Task {
            await schedule.run(from: .init()) {
                let count = runs.withLock { runs in
                    runs.append(clock.now.nanoseconds / 1_000_000_000)
                    return runs.count
                }
                if count == 2 { throw CocoaError(.fileWriteOutOfSpace) }
                return count
            } finished: { _, now in
                outcomes.withLock { $0.append(now) }
            }
        }
        _ = await clock.run { runs.withLock { $0.count } >= 4 }
        task.cancel()
        await task.value
        // First at once; second an hour later fails; retried a minute after; then an hour after that success.
        #expect(runs.withLock { $0 } == [0, 3600, 3660, 7260])
        let recorded = outcomes.withLock { $0 }
        #expect(recorded.count >= 3)
        #expect(recorded[1].lastFailure != nil && recorded[1].lastSuccess == recorded[0].lastSuccess)
        #expect(recorded[2].lastSuccess! > recorded[1].lastFailure!)
    }

    @Test("a last success from before the start is honoured: nothing runs until its interval has passed")
    func resumesFromOutcomes() async {
        let clock = VirtualClock()
        let schedule = Self.schedule(interval: .seconds(600), on: clock)
        let lastSuccess = schedule.wallClock().addingTimeInterval(-500)
        let runs = Mutex<[Int64]>([])
        let task = Task {
            await schedule.run(from: .init(lastSuccess: lastSuccess)) {
                runs.withLock { $0.append(clock.now.nanoseconds / 1_000_000_000) }
            } finished: { _, _ in
            }
        }
        _ = await clock.run { runs.withLock { !$0.isEmpty } }
        task.cancel()
        await task.value
        #expect(runs.withLock { $0 } == [100])
    }

    @Test("cancelled while waiting or while the job runs: it returns, and a cancelled run is not an outcome")
    func cancellation() async {
        let clock = VirtualClock()
        let schedule = Self.schedule(interval: .seconds(60), on: clock)
        let finished = Mutex(0)
        let task = Task {
            await schedule.run(from: .init()) {
                try await clock.sleep(for: .seconds(3600))  // a long job
            } finished: { _, _ in
                finished.withLock { $0 += 1 }
            }
        }
        while clock.sleeperCount == 0 { await Task.yield() }
        task.cancel()
        await task.value
        #expect(finished.withLock { $0 } == 0)
    }
}
