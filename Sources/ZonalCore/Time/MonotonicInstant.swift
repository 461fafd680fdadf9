/// A point on a monotonic time line, counted in nanoseconds from an arbitrary origin.
///
/// Decision cores take the time as a plain value so that tests can drive them with a virtual clock:
/// nothing in a core ever reads the system time itself.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The origin of a clock; virtual clocks start here.
    public static let zero = MonotonicInstant(nanoseconds: 0)

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    // Arithmetic saturates instead of trapping: a duration from outside (a lease TTL, a timeout
    // in a file) that reaches past the end of the time line means "never", not a crash.

    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: saturating(lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds), positive: rhs > .zero))
    }

    public static func - (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: saturating(lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds), positive: rhs < .zero))
    }

    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        .nanoseconds(saturating(lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds), positive: lhs > rhs))
    }

    private static func saturating(_ result: (partialValue: Int64, overflow: Bool), positive: Bool) -> Int64 {
        guard result.overflow else { return result.partialValue }
        return positive ? .max : .min
    }

    public var description: String {
        "t+\(Duration.nanoseconds(nanoseconds).zonalDescription)"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.max`.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole + attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a floating-point number, for reports and metrics.
    public var seconds: Double {
        Double(nanoseconds) / 1e9
    }
}
