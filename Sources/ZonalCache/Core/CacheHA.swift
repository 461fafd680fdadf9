import ZonalCore

/// The decision core of a Redis node's agent: what it observed and the time go in, one decision
/// comes out. No I/O, no clock: ``CacheAgent`` observes, calls ``decide(_:now:)`` once per cycle
/// and carries out the actions in order.
///
/// Safety rules it keeps (tested with seeded fault schedules on a virtual clock):
/// - one writable master: only the holder of the leader key runs unfenced as master, and a
///   master pauses writes (``Action/fence(_:)``) before its lease can expire unless it renewed it;
/// - a master is lost only when its lease lapsed in the coordinator (it stopped renewing) *and*
///   the other agents no longer stream from it, never on one agent's view alone;
/// - the successor is the promotable node with the most of the replication stream (highest
///   offset, then the lower name), so no other live node holds writes the new master lacks.
public struct CacheHA: Sendable {
    public typealias Settings = CacheSpec.Failover

    public let node: String
    /// The other nodes of the service, as the topology places it.
    public let peers: [String]
    public let settings: Settings

    public init(node: String, peers: [String], settings: Settings) {
        self.node = node
        self.peers = peers
        self.settings = settings
    }

    /// The local Redis server as the agent found it.
    public enum LocalServer: Sendable, Hashable {
        /// Not running.
        case stopped
        /// Running but not answering yet, or loading its append-only file.
        case starting
        /// Running as a master at `offset`; `paused`: writes are paused by this agent's fence.
        case master(offset: Int64, paused: Bool)
        /// Running as a replica of `upstream` (the node it was told to follow), at `offset`.
        case replica(offset: Int64, upstream: String?, linkUp: Bool)

        var offset: Int64? {
            switch self {
            case .stopped, .starting: nil
            case .master(let offset, _), .replica(let offset, _, _): offset
            }
        }
    }

    /// What the coordinator holds about the service.
    public struct ClusterView: Sendable, Hashable {
        /// The node holding the leader key.
        public var leader: String?
        /// Live members (their keys vanish with their leases), this node included once published.
        public var members: [CacheMember]

        public init(leader: String?, members: [CacheMember]) {
            self.leader = leader
            self.members = members
        }

        func member(_ name: String) -> CacheMember? {
            members.first { $0.name == name }
        }
    }

    /// Everything one cycle knows.
    public struct Snapshot: Sendable, Hashable {
        public var redis: LocalServer
        /// Until when this node's lease is surely alive (this side's deadline); nil without a lease.
        public var leaseValidUntil: MonotonicInstant?
        /// The coordinator's view; nil when it could not be read this cycle.
        public var cluster: ClusterView?
        /// Since when this agent has seen no leader key; nil while one is held.
        public var leaderlessSince: MonotonicInstant?
        /// Whether this agent has seen any leader since it started or was granted its current
        /// lease. Until it has (all nodes starting together, or every lease lapsed in a
        /// coordinator outage), candidates wait up to one `ttl` for every peer's status, so the
        /// node with the most data is not outrun by one that published first.
        public var seenLeader: Bool

        public init(
            redis: LocalServer, leaseValidUntil: MonotonicInstant?, cluster: ClusterView?, leaderlessSince: MonotonicInstant? = nil, seenLeader: Bool = true
        ) {
            self.redis = redis
            self.leaseValidUntil = leaseValidUntil
            self.cluster = cluster
            self.leaderlessSince = leaderlessSince
            self.seenLeader = seenLeader
        }
    }

    /// What the agent does, in order.
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Starts Redis from its data directory (append-only file), as a replica of the node named;
        /// with nobody to follow it comes up as a master with writes paused, until it either takes
        /// the leader key or learns whom to follow.
        case startReplica(of: String?)
        /// Starts Redis as the master (this node holds the leader key).
        case startMaster
        /// Creates the leader key with this node's lease; the next cycle promotes if it worked.
        case acquireLeadership
        /// `REPLICAOF NO ONE` and unpauses writes: this node holds the leader key.
        case promote
        /// `REPLICAOF` the node named; an old master's diverged writes are reported.
        case follow(String)
        /// Pauses writes (`CLIENT PAUSE WRITE`): this node may no longer be the only master.
        case fence(String)
        /// Lifts this agent's pause: the node holds the leader key again.
        case unfence

        public var description: String {
            switch self {
            case .startReplica(let leader): leader.map { "start as a replica of \($0)" } ?? "start Redis"
            case .startMaster: "start as the master"
            case .acquireLeadership: "acquire the leader key"
            case .promote: "promote"
            case .follow(let leader): "follow \(leader)"
            case .fence(let why): "fence: \(why)"
            case .unfence: "resume writes"
            }
        }
    }

    /// One cycle's outcome: the actions, the sentence that explains them (for logs, `status` and
    /// tests) and the latest moment the agent must decide again.
    public struct Decision: Sendable, Hashable, CustomStringConvertible {
        public var actions: [Action]
        public var reason: String
        public var decideAgainBy: MonotonicInstant

        public var description: String {
            actions.isEmpty ? "no action: \(reason)" : actions.map(\.description).joined(separator: ", ") + ": \(reason)"
        }
    }

    public func decide(_ snapshot: Snapshot, now: MonotonicInstant) -> Decision {
        var next = now + settings.loopWait
        func decision(_ actions: [Action], _ reason: String) -> Decision {
            Decision(actions: actions, reason: reason, decideAgainBy: next)
        }
        // Fencing needs nothing from the coordinator: a master whose lease may lapse pauses
        // writes before anyone else can be granted the leader key.
        if case .master(_, let paused) = snapshot.redis {
            guard let validUntil = snapshot.leaseValidUntil else {
                return decision(paused ? [] : [.fence("running as master without a lease")], "no lease")
            }
            let fenceAt = validUntil - settings.fenceMargin
            if now >= fenceAt {
                return decision(paused ? [] : [.fence("lease not renewed; it may expire at \(validUntil)")], "I am \(node) and may lose the leader key")
            }
            next = min(next, fenceAt)
        }
        guard let cluster = snapshot.cluster else {
            return decision([], "the coordinator cannot be read; keeping the current role")
        }
        switch cluster.leader {
        case node?:
            return decideAsLeader(snapshot.redis, decision: decision)
        case let leader?:
            return decideAsFollower(of: leader, snapshot.redis, decision: decision)
        case nil:
            let verdict = CacheCandidacy(node: node, peers: peers, settings: settings).evaluate(
                snapshot.redis, cluster: cluster, leaderlessFor: snapshot.leaderlessSince.map { now - $0 } ?? .zero, seenLeader: snapshot.seenLeader)
            return decideWithoutLeader(snapshot.redis, verdict: verdict, decision: decision)
        }
    }

    private func decideAsLeader(_ redis: LocalServer, decision: ([Action], String) -> Decision) -> Decision {
        switch redis {
        case .stopped: decision([.startMaster], "I am \(node), the leader, and Redis is down")
        case .starting: decision([], "I am \(node), the leader; Redis is starting")
        case .replica: decision([.promote], "I am \(node) and hold the leader key")
        case .master(_, paused: true): decision([.unfence], "I am \(node), the master, and hold the leader key again")
        case .master: decision([], "I am \(node), the master with the leader key")
        }
    }

    private func decideAsFollower(of leader: String, _ redis: LocalServer, decision: ([Action], String) -> Decision) -> Decision {
        switch redis {
        case .stopped: decision([.startReplica(of: leader)], "\(leader) leads")
        case .starting: decision([], "Redis is starting; \(leader) leads")
        case .master: decision([.follow(leader)], "\(node) runs as master without the leader key; \(leader) holds it")
        case .replica(_, let upstream, _) where upstream != leader: decision([.follow(leader)], "\(leader) leads; replicating from \(upstream ?? "nobody")")
        case .replica(_, _, let linkUp): decision([], linkUp ? "\(node) replicates from \(leader), the leader" : "\(node) waits for its link to \(leader)")
        }
    }

    private func decideWithoutLeader(_ redis: LocalServer, verdict: CacheCandidacy.Verdict, decision: ([Action], String) -> Decision) -> Decision {
        switch (redis, verdict) {
        case (.stopped, _):
            return decision([.startReplica(of: nil)], "no leader; Redis is down")
        case (.starting, _):
            return decision([], "no leader; Redis is starting")
        case (_, .eligible(let why)):
            return decision([.acquireLeadership], why)
        case (.master(_, let paused), .ineligible(let why)):
            return decision(paused ? [] : [.fence("no leader key")], "no leader; \(why)")
        case (.replica, .ineligible(let why)):
            return decision([], "no leader; \(why)")
        }
    }
}
