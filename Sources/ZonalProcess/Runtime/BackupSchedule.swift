import Foundation
import ZonalCore

/// Runs one scheduled backup job on its ``BackupTimetable`` until cancelled: the one loop behind
/// scheduled `zonal backup` runs and the database primary's base backups.
///
/// Waiting goes through the injected clock; outcomes are dated by the wall clock, because they
/// are kept across restarts (a restart must not back up again at once).
public struct BackupSchedule: Sendable {
    /// When the job last succeeded and last failed: all the timetable needs.
    public struct Outcomes: Codable, Sendable, Equatable {
        public var lastSuccess: Date?
        public var lastFailure: Date?

        public init(lastSuccess: Date? = nil, lastFailure: Date? = nil) {
            self.lastSuccess = lastSuccess
            self.lastFailure = lastFailure
        }
    }

    public var timetable: BackupTimetable
    public var clock: any ZonalClock
    /// The time outcomes are dated with; tests derive it from their virtual clock.
    public var wallClock: @Sendable () -> Date

    public init(timetable: BackupTimetable, clock: any ZonalClock = SystemClock(), wallClock: @escaping @Sendable () -> Date = { Date() }) {
        self.timetable = timetable
        self.clock = clock
        self.wallClock = wallClock
    }

    /// Runs `job` whenever it is due, starting from `outcomes`, until the task is cancelled.
    /// `finished` sees each run's result with the outcomes that now hold, to log and keep them;
    /// a run ended by cancellation is not an outcome.
    public func run<Summary: Sendable>(
        from outcomes: Outcomes, job: () async throws -> Summary,
        finished: (Result<Summary, any Error>, Outcomes) async -> Void
    ) async {
        var outcomes = outcomes
        while !Task.isCancelled {
            if let next = timetable.nextRun(lastSuccess: outcomes.lastSuccess, lastFailure: outcomes.lastFailure) {
                let wait = next.timeIntervalSince(wallClock())
                if wait > 0 {
                    guard (try? await clock.sleep(for: .seconds(wait))) != nil else { return }
                    continue  // the wall clock may have moved differently from the monotonic one
                }
            }
            let result: Result<Summary, any Error>
            do {
                result = .success(try await job())
                outcomes.lastSuccess = wallClock()
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                result = .failure(error)
                outcomes.lastFailure = wallClock()
            }
            await finished(result, outcomes)
        }
    }
}
