import ZonalCore

/// Passive health: a server whose requests fail several times in a row (connect errors, 5xx)
/// is ejected for a while, longer each time it is ejected again, without waiting for the next
/// active check. Like Envoy's outlier detection.
public struct OutlierDetector: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Failures in a row that eject a server. Default 5.
        public var consecutiveFailures = 5
        /// First ejection; the n-th ejection in a row lasts n times this. Default 10 s.
        public var baseEjection: Duration = .seconds(10)
        /// Longest ejection. Default 5 min.
        public var maxEjection: Duration = .seconds(300)

        public init(consecutiveFailures: Int = 5, baseEjection: Duration = .seconds(10), maxEjection: Duration = .seconds(300)) {
            self.consecutiveFailures = consecutiveFailures
            self.baseEjection = baseEjection
            self.maxEjection = maxEjection
        }
    }

    public struct Ejection: Sendable, Hashable, CustomStringConvertible {
        public var backend: String
        public var until: MonotonicInstant
        public var cause: String
        public var description: String { "eject \(backend) until \(until): \(cause)" }
    }

    private struct Record: Sendable {
        var failures = 0
        var ejections = 0
        var ejectedUntil: MonotonicInstant?
    }

    public let settings: Settings
    private var records: [String: Record] = [:]

    public init(settings: Settings = .init()) {
        self.settings = settings
    }

    public func isEjected(_ backend: String, now: MonotonicInstant) -> Bool {
        guard let until = records[backend]?.ejectedUntil else { return false }
        return now < until
    }

    public mutating func recordSuccess(_ backend: String, now: MonotonicInstant) {
        var record = records[backend, default: Record()]
        record.failures = 0
        // Each ejection period spent healthy since the last ejection ended forgives one ejection.
        if let until = record.ejectedUntil, now >= until {
            let forgiven = min(Int((now - until).nanoseconds / max(settings.baseEjection.nanoseconds, 1)), record.ejections)
            record.ejections -= forgiven
            // Count the next forgiveness from here, so the same healthy time is not counted twice.
            record.ejectedUntil = until + settings.baseEjection * forgiven
        }
        records[backend] = record
    }

    /// An active check found the server healthy again (it was restarted, say): its current
    /// ejection ends now, while the count of ejections in a row stays, so a server that fails
    /// again at once is ejected for longer.
    public mutating func readmit(_ backend: String, now: MonotonicInstant) {
        guard var record = records[backend], let until = record.ejectedUntil, now < until else { return }
        record.ejectedUntil = now
        record.failures = 0
        records[backend] = record
    }

    /// Records a failed request; returns the ejection it causes, if any.
    public mutating func recordFailure(_ backend: String, reason: String, now: MonotonicInstant) -> Ejection? {
        var record = records[backend, default: Record()]
        defer { records[backend] = record }
        guard !isEjected(backend, now: now) else { return nil }
        record.failures += 1
        guard record.failures >= settings.consecutiveFailures else { return nil }
        record.failures = 0
        record.ejections += 1
        let duration = min(settings.baseEjection * record.ejections, settings.maxEjection)
        record.ejectedUntil = now + duration
        return Ejection(
            backend: backend, until: now + duration,
            cause: "\(settings.consecutiveFailures) failures in a row, last: \(reason); ejection \(record.ejections) for \(duration.zonalDescription)")
    }
}
