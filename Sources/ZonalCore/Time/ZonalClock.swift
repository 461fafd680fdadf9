/// The time source of every runtime shell.
///
/// Production code uses ``SystemClock``; tests inject a virtual clock (ZonalTesting) so that
/// timeouts and intervals pass without real waiting.
public protocol ZonalClock: Sendable {
    /// The current time.
    var now: MonotonicInstant { get }

    /// Suspends until `deadline`, or throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: MonotonicInstant) async throws
}

extension ZonalClock {
    /// Suspends for `duration` from now.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real monotonic clock (`ContinuousClock`), with its origin at the first use in this process.
public struct SystemClock: ZonalClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public var now: MonotonicInstant {
        MonotonicInstant(nanoseconds: (ContinuousClock.now - Self.origin).nanoseconds)
    }

    public func sleep(until deadline: MonotonicInstant) async throws {
        try await ContinuousClock().sleep(until: Self.origin + .nanoseconds(deadline.nanoseconds))
    }
}
