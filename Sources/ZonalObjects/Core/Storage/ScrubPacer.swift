import ZonalCore

/// The pace of a scrub pass: what the pass has read may not run ahead of `rate` bytes per
/// second since it began, so verifying replicas takes no more than that share of the disk
/// whatever the clients do. Each version checked also costs ``versionCost`` bytes, for the
/// index reads and the questions to other nodes, so a pass over many tiny objects or delete
/// markers is paced as well.
public struct ScrubPacer: Sendable, Hashable {
    public static let versionCost: Int64 = 4096

    /// Bytes per second, at least 1.
    public let rate: Int64
    public let started: MonotonicInstant
    public private(set) var spent: Int64 = 0

    public init(rate: Int, started: MonotonicInstant) {
        self.rate = Int64(max(rate, 1))
        self.started = started
    }

    /// Counts `bytes` more read; returns the instant before which the pass must not go on.
    public mutating func spend(_ bytes: Int64) -> MonotonicInstant {
        spent = spent.addingReportingOverflow(max(bytes, 0)).overflow ? .max : spent + max(bytes, 0)
        let (whole, rest) = spent.quotientAndRemainder(dividingBy: rate)
        return started + .seconds(whole) + .nanoseconds(rest * 1_000_000_000 / rate)
    }
}
