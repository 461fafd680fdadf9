import Synchronization
import ZonalCore

/// A clock that moves only when a test says so.
///
/// Sleepers wake in deadline order when ``advance(by:)`` passes their deadline, so a test runs
/// minutes of timeouts and intervals in microseconds and always the same way.
public final class VirtualClock: ZonalClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: MonotonicInstant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: MonotonicInstant = .zero
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var now: MonotonicInstant {
        state.withLock { $0.now }
    }

    /// How many tasks are suspended in ``sleep(until:)``; tests wait for this to know a shell is idle.
    public var sleeperCount: Int {
        state.withLock { $0.sleepers.count }
    }

    public func sleep(until deadline: MonotonicInstant) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if deadline <= state.now { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// The earliest deadline anyone sleeps until.
    public var nextDeadline: MonotonicInstant? {
        state.withLock { $0.sleepers.map(\.deadline).min() }
    }

    /// Runs a system of tasks that all wait on this clock: whenever they are idle (every task
    /// asleep, the set of sleepers unchanged for a few real milliseconds) time jumps to the
    /// earliest deadline. Stops when `done` holds or after `maxSteps` jumps; returns whether `done` held.
    public func run(maxSteps: Int = 10_000, until done: @Sendable () async -> Bool) async -> Bool {
        for _ in 0..<maxSteps {
            if await done() { return true }
            await waitUntilIdle()
            if await done() { return true }
            guard let deadline = nextDeadline else { continue }
            advance(to: deadline)
        }
        return await done()
    }

    private func waitUntilIdle() async {
        var stableRounds = 0
        var last: [UInt64] = []
        while stableRounds < 3 {
            try? await Task.sleep(for: .milliseconds(2))
            let current = state.withLock { $0.sleepers.map(\.id).sorted() }
            stableRounds = (current == last && !current.isEmpty) ? stableRounds + 1 : 0
            last = current
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come, earliest first.
    public func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    public func advance(to instant: MonotonicInstant) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = max(state.now, instant)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
