import Logging
import ZonalCore

/// Leader election built once on leases and transactions; every HA manager uses this one.
///
/// A candidate holds a key `NAME/LEASE` attached to its own lease; the oldest key leads
/// (``ElectionCore``). Leadership is kept while the lease is renewed and is lost, on this side,
/// at the lease's local deadline (``LeaseKeeper``) — before the coordinator can hand it to
/// anyone else.
public struct LeaderElection: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Lease TTL: how long a leader that stops renewing keeps the key. Default 3 s.
        public var ttl: Duration = .seconds(3)
        /// Renewal period. Default: a third of the TTL.
        public var renewInterval: Duration?

        public init(ttl: Duration = .seconds(3), renewInterval: Duration? = nil) {
            self.ttl = ttl
            self.renewInterval = renewInterval
        }
    }

    public let coordinator: any Coordinator
    /// The key prefix of this election, e.g. `/zonal/elections/db-primary`.
    public let name: String
    public let settings: Settings
    public let clock: any ZonalClock
    public let logger: Logger

    public init(coordinator: any Coordinator, name: String, settings: Settings = .init(), clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.coordinator = coordinator
        self.name = name.hasSuffix("/") ? name : name + "/"
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// Becomes a candidate with `value` (who we are, for observers) and returns once leading.
    /// Throws when the lease is lost while waiting, or the task is cancelled.
    public func campaign(value: String) async throws -> Leadership {
        let requestedAt = clock.now
        let lease = try await coordinator.grantLease(ttl: settings.ttl)
        let keeper = LeaseKeeper(
            coordinator: coordinator, lease: lease, grantRequestedAt: requestedAt, clock: clock,
            interval: settings.renewInterval, logger: logger)
        let renewal = Task { await keeper.run() }
        let key = name + lease.id.description
        do {
            _ = try await coordinator.transaction(Transaction(compares: [.absent(key)], success: [.put(key: key, value: Array(value.utf8), lease: lease.id)]))
            while true {
                try Task.checkCancellation()
                let candidates = try await coordinator.range(prefix: name)
                let decision = ElectionCore.decide(candidates: candidates.keyValues, mine: key)
                logger.debug("election", metadata: ["election": "\(name)", "decision": "\(decision)"])
                switch decision {
                case .lead:
                    return Leadership(key: key, value: value, keeper: keeper, renewal: renewal, coordinator: coordinator, clock: clock)
                case .lostCandidacy:
                    throw CoordinatorError.leaseNotFound(lease.id)
                case .waitFor(let predecessor, _):
                    try await waitForDeletion(of: predecessor, after: candidates.revision, keeper: keeper)
                }
            }
        } catch {
            renewal.cancel()
            try? await coordinator.revokeLease(lease.id)
            throw error
        }
    }

    /// The current leader, with how long its lease has left, if there is one.
    public func currentLeader() async throws(CoordinatorError) -> LeaderInfo? {
        try await leader(among: try await coordinator.range(prefix: name).keyValues)
    }

    /// The leader now and after every change of candidates: nil while there is none. Survives
    /// lost connections: it follows the candidates with a ``PrefixFollower`` on this election's
    /// clock, and ends only when the consumer stops.
    public func observe() -> AsyncStream<LeaderInfo?> {
        let (stream, continuation) = AsyncStream<LeaderInfo?>.makeStream()
        let task = Task {
            var current: LeaderInfo??
            func report(_ next: LeaderInfo?) {
                if let known = current, known?.key == next?.key, known?.value == next?.value { return }
                current = next
                continuation.yield(next)
            }
            await PrefixFollower(coordinator: coordinator, prefix: name, clock: clock).run(
                onReading: { reading in report(try await leader(among: reading.keyValues)) },
                onEvent: { _ in report(try await currentLeader()) })
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func leader(among candidates: [KeyValue]) async throws(CoordinatorError) -> LeaderInfo? {
        guard let leader = ElectionCore.leader(of: candidates) else { return nil }
        var remaining: Duration?
        if let lease = leader.lease { remaining = try await coordinator.timeToLive(lease) }
        return LeaderInfo(key: leader.key, value: leader.string, lease: leader.lease, expiresIn: remaining)
    }

    /// Waits until `key` is deleted, or throws when our own lease is lost first.
    private func waitForDeletion(of key: String, after readRevision: Int64, keeper: LeaseKeeper) async throws {
        let coordinator = self.coordinator
        let clock = self.clock
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for try await event in coordinator.resumingWatch(prefix: key, fromRevision: readRevision + 1)
                where event.keyValue.key == key && event.kind == .delete {
                    return true
                }
                return false
            }
            group.addTask {
                // Our own lease runs out unless renewed: sleep to its (moving) deadline.
                while clock.now < keeper.validUntil {
                    try await clock.sleep(until: keeper.validUntil)
                }
                return false
            }
            let deleted = try await group.next() ?? false
            group.cancelAll()
            if !deleted { throw CoordinatorError.leaseNotFound(keeper.lease.id) }
        }
    }
}

/// Who leads an election, as an observer sees it.
public struct LeaderInfo: Sendable, Hashable {
    public var key: String
    /// What the leader campaigned with (who it is).
    public var value: String
    public var lease: LeaseID?
    /// Time left on the leader's lease when it was read; if it stops renewing, a successor can
    /// take over after this long.
    public var expiresIn: Duration?
}

/// Being the leader. Valid until ``validUntil``; a holder must stop acting as leader by then
/// (``waitUntilLost()`` tells when), and ``resign()`` hands over at once.
public final class Leadership: Sendable {
    public let key: String
    public let value: String
    private let keeper: LeaseKeeper
    private let renewal: Task<String, Never>
    private let coordinator: any Coordinator
    private let clock: any ZonalClock

    init(key: String, value: String, keeper: LeaseKeeper, renewal: Task<String, Never>, coordinator: any Coordinator, clock: any ZonalClock) {
        self.key = key
        self.value = value
        self.keeper = keeper
        self.renewal = renewal
        self.coordinator = coordinator
        self.clock = clock
    }

    public var lease: Lease { keeper.lease }

    /// The last moment this side is sure to lead.
    public var validUntil: MonotonicInstant { keeper.validUntil }

    public func isValid(at now: MonotonicInstant) -> Bool { keeper.isValid(at: now) }

    /// Returns when leadership is lost, with the reason (the lease could not be renewed in time).
    public func waitUntilLost() async -> String {
        await renewal.value
    }

    /// Gives up leadership: revokes the lease, which deletes the key and wakes the next candidate.
    public func resign() async {
        renewal.cancel()
        try? await coordinator.revokeLease(keeper.lease.id)
    }
}
