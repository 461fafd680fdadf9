import Foundation
import ZonalCore

/// When a scheduled backup runs next. Pure: the last outcome and the time go in.
///
/// A policy runs at once when it never succeeded, then `interval` after its last success; after
/// a failure it tries again after `retryDelay` (or the interval, if shorter), so a full disk or
/// a missing mount is retried without hammering it.
public struct BackupTimetable: Sendable, Hashable {
    public var interval: Duration
    public var retryDelay: Duration

    public init(interval: Duration, retryDelay: Duration = .seconds(60)) {
        self.interval = interval
        self.retryDelay = retryDelay
    }

    public func nextRun(lastSuccess: Date?, lastFailure: Date?) -> Date? {
        let afterSuccess = lastSuccess.map { $0.addingTimeInterval(interval.seconds) }
        guard let lastFailure, lastFailure > (lastSuccess ?? .distantPast) else { return afterSuccess }
        return lastFailure.addingTimeInterval(min(retryDelay, interval).seconds)
    }
}
