import ZonalCoordination
import ZonalCore

/// Hands the primary role of a cluster to another node without losing an acknowledged commit:
/// the request goes into the coordinator on a lease of the timeout (an abandoned request ends by
/// itself), the primary's agent stops its server once the target streams everything, and the
/// target's agent takes the leader key and promotes. This shell follows the cluster's keys until
/// the target runs as primary with the key, or the timeout passes on the injected clock.
public struct Switchover: Sendable {
    public let store: ClusterStore
    public let clock: any ZonalClock

    public init(store: ClusterStore, clock: any ZonalClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    /// The outcome of a switchover that finished.
    public struct Outcome: Sendable, Hashable {
        public var from: String
        public var to: String
        public var took: Duration
    }

    /// Why a switchover to `target` must not start now, or nil when it may: it must be a node
    /// of the cluster, there must be a primary, and the target must stream from it (so it can
    /// have every commit).
    public static func refusal(target: String, nodes: [String], service: String, view: DatabaseHA.ClusterView) -> String? {
        guard nodes.contains(target) else { return "\(target) is not a node of \(service); its nodes: \(nodes.joined(separator: ", "))" }
        guard let leader = view.leader else { return "\(service) has no primary now; nothing to switch over" }
        guard leader != target else { return "\(target) is already the primary" }
        guard view.members.first(where: { $0.name == target })?.isStreaming(from: leader) == true else {
            return "\(target) does not stream from \(leader) now; a switchover to it could lose commits"
        }
        return nil
    }

    /// Whether the switchover to `target` is done: it holds the leader key and runs as primary.
    public static func isDone(target: String, view: DatabaseHA.ClusterView) -> Bool {
        view.leader == target && view.members.first(where: { $0.name == target })?.role == .primary
    }

    /// Requests the switchover and waits for it; the request is withdrawn either way.
    public func run(to target: String, nodes: [String], service: String, timeout: Duration) async throws -> Outcome {
        let view = try await store.read().view
        if let refusal = Self.refusal(target: target, nodes: nodes, service: service, view: view) { throw DatabaseError.switchover(refusal) }
        let leader = view.leader ?? ""
        let lease = try await store.coordinator.grantLease(ttl: timeout)
        let started = clock.now
        let finished: Bool
        do {
            try await store.requestSwitchover(SwitchoverRequest(from: leader, target: target), lease: lease.id)
            finished = await waitUntilDone(target: target, deadline: started + timeout)
        } catch {
            try? await store.coordinator.revokeLease(lease.id)
            throw error
        }
        try? await store.coordinator.revokeLease(lease.id)
        guard finished else {
            throw DatabaseError.switchover(
                "switchover to \(target) did not finish within \(timeout.zonalDescription); \(leader) stays the primary unless it stepped down (see `zonal db status`)"
            )
        }
        return Outcome(from: leader, to: target, took: clock.now - started)
    }

    /// Follows the cluster's keys until the target leads (true) or `deadline` passes (false).
    private func waitUntilDone(target: String, deadline: MonotonicInstant) async -> Bool {
        let (done, reached) = AsyncStream<Void>.makeStream()
        let store = self.store
        let clock = self.clock
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in done { return true }
                return false
            }
            group.addTask {
                try? await clock.sleep(until: deadline)
                return false
            }
            group.addTask {
                let check = { () async throws in if Self.isDone(target: target, view: try await store.read().view) { reached.yield() } }
                await PrefixFollower(coordinator: store.coordinator, prefix: store.prefix, clock: clock).run(
                    onReading: { _ in try await check() }, onEvent: { _ in try await check() })
                return false
            }
            let finished = await group.next() ?? false
            group.cancelAll()
            reached.finish()
            return finished
        }
    }
}
