/// How long to wait before trying again after failures in a row: `initial`, doubling up to
/// `maximum`, each delay shortened by a random part of up to `jitter` so that many clients
/// failing together do not retry together. The one retry policy of Zonal: watches, the S3
/// client, coordinator clients and the supervisor's restarts all use it.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    /// From 0 (every delay exact) to 1 (anything from zero to the delay).
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, jitter: Double = 0.2) {
        self.initial = max(initial, .zero)
        self.maximum = max(maximum, self.initial)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// What following the coordinator uses after a lost connection: quick at first (a leader
    /// change of etcd), at most a few seconds apart while it stays away.
    public static let coordinator = Backoff(initial: .milliseconds(100), maximum: .seconds(3))

    /// The delay before attempt `failures + 1`, after `failures` in a row (1 or more); `random`
    /// from 0 up to 1 picks the jitter, so tests choose it.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        var delay = initial
        var doublings = max(failures, 1) - 1
        while doublings > 0, delay > .zero, delay < maximum {
            delay = delay * 2
            doublings -= 1
        }
        delay = min(delay, maximum)
        return delay - delay * (jitter * min(max(random, 0), 1))
    }

    /// The delay after `failures` in a row, with the system's randomness.
    public func delay(afterFailures failures: Int) -> Duration {
        delay(afterFailures: failures, random: jitter == 0 ? 0 : Double.random(in: 0..<1))
    }
}
