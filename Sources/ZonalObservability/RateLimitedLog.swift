import Logging
import Synchronization
import ZonalCore

/// Logs a recurring message at most once per interval per key, then says how many were left
/// out: a client that provokes the same warning on every connection cannot flood the log (or
/// the disk under it).
public final class RateLimitedLog: Sendable {
    private struct Slot {
        var last: ContinuousClock.Instant
        var suppressed: Int
    }

    public let interval: Duration
    /// At most this many keys are tracked; beyond it the oldest are forgotten.
    static let maximumKeys = 1024
    private let slots = Mutex<[String: Slot]>([:])

    public init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Logs `message` at `level` unless the same `key` was logged within the interval.
    public func log(_ logger: Logger, _ level: Logger.Level, _ message: String, key: String, metadata: Logger.Metadata = [:]) {
        let now = ContinuousClock.now
        let suppressed = slots.withLock { slots -> Int? in
            if let slot = slots[key], now - slot.last < interval {
                slots[key]?.suppressed += 1
                return nil
            }
            if slots.count >= Self.maximumKeys, slots[key] == nil, let oldest = slots.min(by: { $0.value.last < $1.value.last })?.key {
                slots.removeValue(forKey: oldest)
            }
            let previous = slots[key]?.suppressed ?? 0
            slots[key] = Slot(last: now, suppressed: 0)
            return previous
        }
        guard let suppressed else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed) like it in the last \(interval.zonalDescription)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}
