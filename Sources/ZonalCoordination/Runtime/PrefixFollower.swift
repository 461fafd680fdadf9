import ZonalCore

/// The one way Zonal follows a part of the coordinator: read everything under `prefix`, then
/// watch it from the next revision; on any error (a lost connection, a compacted history, a
/// failing handler) pause by `backoff` on `clock` and start again with a fresh read, so the
/// follower never misses a change and never spins.
public struct PrefixFollower: Sendable {
    public let coordinator: any Coordinator
    public let prefix: String
    public let backoff: Backoff
    public let clock: any ZonalClock

    public init(coordinator: any Coordinator, prefix: String, backoff: Backoff = .coordinator, clock: any ZonalClock = SystemClock()) {
        self.coordinator = coordinator
        self.prefix = prefix
        self.backoff = backoff
        self.clock = clock
    }

    /// Follows until the task is cancelled. `onReading` gets each full read (the first, and the
    /// first after every error); `onEvent` each change after it, in order. `onError` hears of
    /// each failure with the pause before the next attempt. The handlers run on the caller's
    /// actor, so an actor can follow a prefix into its own state.
    public func run(
        isolation: isolated (any Actor)? = #isolation,
        onReading: (RangeResult) async throws -> Void,
        onEvent: (WatchEvent) async throws -> Void,
        onError: (any Error, _ retryIn: Duration) -> Void = { _, _ in }
    ) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let reading = try await coordinator.range(prefix: prefix)
                try await onReading(reading)
                failures = 0
                for try await event in coordinator.resumingWatch(prefix: prefix, fromRevision: reading.revision + 1, backoff: backoff, clock: clock) {
                    try await onEvent(event)
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let pause = backoff.delay(afterFailures: failures)
                onError(error, pause)
                guard (try? await clock.sleep(for: pause)) != nil else { return }
            }
        }
    }
}
