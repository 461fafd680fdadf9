import ZonalCore

extension Coordinator {
    /// A watch that survives lost connections: after any error but compaction it watches again
    /// from where it stopped (pausing by `backoff` on `clock`), so the caller sees every event
    /// once, in order, without gaps. Ends with ``CoordinatorError/compacted(requested:compactedThrough:)``
    /// when the history it needs is gone, or when the consuming task is cancelled.
    public func resumingWatch(
        prefix: String, fromRevision revision: Int64, backoff: Backoff = .coordinator,
        clock: any ZonalClock = SystemClock()
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let task = Task {
            var cursor = WatchCursor(next: revision)
            var failures = 0
            while !Task.isCancelled {
                do {
                    for try await event in watch(prefix: prefix, fromRevision: cursor.next) where cursor.admit(event) {
                        failures = 0
                        continuation.yield(event)
                    }
                } catch let error as CoordinatorError {
                    if case .compacted = error {
                        continuation.finish(throwing: error)
                        return
                    }
                } catch {}
                failures += 1
                try? await clock.sleep(for: backoff.delay(afterFailures: failures))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// Where a resumed watch continues. One transaction can make several events at one revision, so
/// a watch cut inside a revision resumes at that same revision and skips the events it already
/// delivered.
struct WatchCursor: Sendable, Hashable {
    private(set) var next: Int64
    private var deliveredAtLast: Set<String> = []
    private var lastRevision: Int64 = 0

    init(next: Int64) {
        self.next = next
    }

    /// Whether `event` is new; records it.
    mutating func admit(_ event: WatchEvent) -> Bool {
        if event.revision < lastRevision { return false }
        if event.revision == lastRevision {
            return deliveredAtLast.insert(event.keyValue.key).inserted
        }
        lastRevision = event.revision
        deliveredAtLast = [event.keyValue.key]
        next = event.revision
        return true
    }
}
