import Foundation
import Testing

@testable import ZonalProcess

@Suite("Backup timetable")
struct BackupTimetableTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test("runs at once the first time, an interval after a success, and retries a failure sooner")
    func nextRun() {
        let hourly = BackupTimetable(interval: .seconds(3600), retryDelay: .seconds(60))
        #expect(hourly.nextRun(lastSuccess: nil, lastFailure: nil) == nil)
        #expect(hourly.nextRun(lastSuccess: t0, lastFailure: nil) == t0.addingTimeInterval(3600))
        #expect(hourly.nextRun(lastSuccess: t0, lastFailure: t0.addingTimeInterval(10)) == t0.addingTimeInterval(70))
        // A failure older than the last success no longer matters.
        #expect(hourly.nextRun(lastSuccess: t0.addingTimeInterval(100), lastFailure: t0) == t0.addingTimeInterval(3700))
        // A short interval is never stretched by the retry delay.
        #expect(BackupTimetable(interval: .seconds(5)).nextRun(lastSuccess: nil, lastFailure: t0) == t0.addingTimeInterval(5))
    }
}
