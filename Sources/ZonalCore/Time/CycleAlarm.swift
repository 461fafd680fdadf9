import Synchronization

/// How an agent's decision cycle waits: until its next deadline, or at once when something it
/// follows changes (a watch rings the alarm). Checked every `granularity` on the injected clock,
/// so a virtual clock drives it in tests.
public final class CycleAlarm: Sendable {
    private let rung = Mutex(false)
    public let granularity: Duration

    public init(granularity: Duration) {
        self.granularity = granularity
    }

    /// Ends the current (or the next) sleep early.
    public func ring() {
        rung.withLock { $0 = true }
    }

    /// Sleeps until `deadline`, until the alarm rings or until the task is cancelled.
    public func sleep(until deadline: MonotonicInstant, clock: any ZonalClock) async {
        while !rung.withLock({ $0 }), clock.now < deadline, !Task.isCancelled {
            guard (try? await clock.sleep(until: min(deadline, clock.now + granularity))) != nil else { return }
        }
        rung.withLock { $0 = false }
    }
}
