import ZonalCore

/// The decision core of a database node's agent: what it observed and the time go in, one
/// decision comes out. No I/O, no clock: the agent (``DatabaseAgent``) observes, calls
/// ``decide(_:now:)`` once per cycle and carries out the actions in order.
///
/// Safety rules it keeps (tested with seeded fault schedules on a virtual clock):
/// - never two writable primaries: a primary stops PostgreSQL before its lease can expire unless
///   it renewed it (``Action/fence(_:)``), and only the holder of the leader key runs as primary;
/// - in asynchronous mode never promote a standby further behind the last known primary position
///   than `maximum_lag_on_failover`;
/// - in synchronous mode never promote a node that may miss an acknowledged commit
///   (``FailoverCandidacy``).
public struct DatabaseHA: Sendable {
    public typealias Settings = DatabaseSpec.Failover

    public let node: String
    public let settings: Settings

    public init(node: String, settings: Settings) {
        self.node = node
        self.settings = settings
    }

    /// Everything one cycle knows.
    public struct Snapshot: Sendable, Hashable {
        public var postgres: LocalServer
        /// Until when this node's lease is surely alive (this side's deadline); nil without a lease.
        public var leaseValidUntil: MonotonicInstant?
        /// The coordinator's view; nil when it could not be read this cycle.
        public var cluster: ClusterView?
        /// Whom a standby is configured to stream from (it may not be connected yet).
        public var following: String?

        public init(postgres: LocalServer, leaseValidUntil: MonotonicInstant?, cluster: ClusterView?, following: String? = nil) {
            self.postgres = postgres
            self.leaseValidUntil = leaseValidUntil
            self.cluster = cluster
            self.following = following
        }
    }

    /// The local PostgreSQL server as the agent found it.
    public enum LocalServer: Sendable, Hashable {
        /// No data directory.
        case absent
        /// A data directory and no running server. `wasPrimary`: it last ran as a primary (no
        /// `standby.signal`), so it may hold WAL nobody else has and must be rewound to follow.
        case stopped(WALPosition?, wasPrimary: Bool)
        /// Started but not yet answering (crash recovery, catching up to consistency).
        case starting
        /// Running and writable; `synchronous` is the set its `synchronous_standby_names` names.
        case primary(WALPosition, synchronous: SynchronousSet)
        /// Running in recovery; `upstream` is who its WAL receiver streams from, if connected.
        case standby(WALPosition, upstream: String?)

        var hasData: Bool {
            if case .absent = self { false } else { true }
        }

        var position: WALPosition? {
            switch self {
            case .absent, .starting: nil
            case .stopped(let position, _): position
            case .primary(let position, _), .standby(let position, _): position
            }
        }
    }

    /// What the coordinator holds about the cluster.
    public struct ClusterView: Sendable, Hashable {
        /// The node holding the leader key.
        public var leader: String?
        /// Whether the cluster was ever bootstrapped.
        public var initialized: Bool
        /// Live members (their keys vanish with their leases), this node included once published.
        public var members: [MemberStatus]
        /// The last position the primary published.
        public var leaderPosition: LeaderPosition?
        /// Standbys that may be promoted in synchronous mode.
        public var synchronous: SynchronousSet
        public var switchover: SwitchoverRequest?

        public init(
            leader: String?, initialized: Bool, members: [MemberStatus], leaderPosition: LeaderPosition? = nil,
            synchronous: SynchronousSet = .empty, switchover: SwitchoverRequest? = nil
        ) {
            self.leader = leader
            self.initialized = initialized
            self.members = members
            self.leaderPosition = leaderPosition
            self.synchronous = synchronous
            self.switchover = switchover
        }

        func member(_ name: String) -> MemberStatus? {
            members.first { $0.name == name }
        }
    }

    /// What the agent does, in order.
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Wins the race to create the cluster (claims the leader and initialize keys together),
        /// then runs initdb and starts a primary.
        case bootstrap
        /// Copies the leader's data with `pg_basebackup` and starts a standby of it.
        case clone(from: String)
        /// Starts the stopped server as a standby of `leader` (nil: of nobody yet).
        case startStandby(following: String?)
        /// Starts the stopped server as the primary (this node holds the leader key).
        case startPrimary
        /// Rewinds a server that ran as primary onto `leader`'s history and starts it as a standby.
        case rejoin(following: String)
        /// Points a running standby at `leader`.
        case follow(String)
        /// Creates the leader key with this node's lease; the next cycle promotes if it worked.
        case acquireLeadership
        /// Ends recovery. Before that, PostgreSQL is set to wait for `synchronous` and the
        /// coordinator's set is replaced by it.
        case promote(synchronous: SynchronousSet?)
        /// Stops PostgreSQL at once (immediate shutdown): this node may no longer be the only
        /// primary. It rejoins as a standby once a leader is known.
        case fence(String)
        /// Stops a primary cleanly so that `target` has every commit, publishes the final position
        /// and gives up the leader key (planned switchover).
        case stepDown(for: String)
        /// Replaces the set of standbys PostgreSQL waits for.
        case configureSynchronousStandbys(SynchronousSet)
        /// Replaces the set published in the coordinator.
        case publishSynchronousSet(SynchronousSet)

        public var description: String {
            switch self {
            case .bootstrap: "bootstrap a new cluster"
            case .clone(let leader): "clone from \(leader)"
            case .startStandby(let leader): leader.map { "start as a standby of \($0)" } ?? "start as a standby"
            case .startPrimary: "start as the primary"
            case .rejoin(let leader): "rewind and rejoin as a standby of \(leader)"
            case .follow(let leader): "follow \(leader)"
            case .acquireLeadership: "acquire the leader key"
            case .promote(let set): set.map { "promote (synchronous standbys: \($0))" } ?? "promote"
            case .fence(let why): "fence: \(why)"
            case .stepDown(let target): "step down for \(target)"
            case .configureSynchronousStandbys(let set): "make PostgreSQL wait for \(set)"
            case .publishSynchronousSet(let set): "publish synchronous standbys \(set)"
            }
        }
    }

    /// One cycle's outcome: the actions, the sentence that explains them (for logs, `status`
    /// and tests) and the latest moment the agent must decide again.
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

        // Fencing comes first and needs nothing from the coordinator: a primary whose lease may
        // lapse must stop before anyone else can be granted the leader key.
        if case .primary = snapshot.postgres {
            guard let validUntil = snapshot.leaseValidUntil else {
                return decision([.fence("running as primary without a lease")], "no lease")
            }
            let fenceAt = validUntil - settings.fenceMargin
            if now >= fenceAt {
                return decision([.fence("lease not renewed; it may expire at \(validUntil)")], "I am \(node) and may lose the leader key")
            }
            next = min(next, fenceAt)
        }
        guard let cluster = snapshot.cluster else {
            return decision([], "the coordinator cannot be read; keeping the current role")
        }
        switch cluster.leader {
        case node?:
            return decideAsLeader(snapshot.postgres, cluster: cluster, decision: decision)
        case let leader?:
            return decideAsFollower(of: leader, snapshot.postgres, following: snapshot.following, cluster: cluster, decision: decision)
        case nil:
            return decideWithoutLeader(snapshot.postgres, cluster: cluster, decision: decision)
        }
    }

    private func decideAsLeader(_ server: LocalServer, cluster: ClusterView, decision: ([Action], String) -> Decision) -> Decision {
        switch server {
        case .absent:
            return decision(cluster.initialized ? [] : [.bootstrap], "I am \(node), the leader, without a data directory")
        case .starting:
            return decision([], "I am \(node), the leader; PostgreSQL is starting")
        case .stopped:
            return decision([.startPrimary], "I am \(node), the leader, and PostgreSQL is down")
        case .standby:
            return decision([.promote(synchronous: synchronousSetAfterPromotion(cluster))], "I am \(node) and hold the leader key")
        case .primary(let position, let pgSet):
            if let switchover = cluster.switchover, switchover.target != node {
                if let target = cluster.member(switchover.target), target.isStreaming(from: node), target.promotable,
                    let targetPosition = target.position, targetPosition.timeline == position.timeline
                {
                    return decision([.stepDown(for: switchover.target)], "switchover to \(switchover.target) requested")
                }
                return decision([], "switchover to \(switchover.target) waits until it streams from \(node)")
            }
            if let step = SynchronousReplicationPlan(settings: settings, leader: node).nextStep(
                members: cluster.members, postgres: pgSet, published: cluster.synchronous)
            {
                return decision([step], "I am \(node), the primary; synchronous standbys change")
            }
            return decision([], "I am \(node), the primary with the leader key")
        }
    }

    private func decideAsFollower(of leader: String, _ server: LocalServer, following: String?, cluster: ClusterView, decision: ([Action], String) -> Decision)
        -> Decision
    {
        switch server {
        case .absent:
            return decision([.clone(from: leader)], "\(leader) leads and \(node) has no data")
        case .starting:
            return decision([], "PostgreSQL is starting; \(leader) leads")
        case .primary:
            return decision([.fence("\(leader) holds the leader key")], "\(node) runs as primary without the leader key")
        case .stopped(let position, let wasPrimary):
            if wasPrimary { return decision([.rejoin(following: leader)], "\(node) was a primary; \(leader) leads now") }
            if let position, let history = cluster.leaderPosition, history.name == leader, history.hasDiverged(position) {
                return decision([.rejoin(following: leader)], "\(node) at \(position) has diverged from \(leader)'s history")
            }
            return decision([.startStandby(following: leader)], "\(leader) leads")
        case .standby(let position, let upstream):
            if upstream == leader { return decision([], "\(node) streams from \(leader), the leader") }
            if let history = cluster.leaderPosition, history.name == leader, history.hasDiverged(position) {
                return decision([.rejoin(following: leader)], "\(node) at \(position) has diverged from \(leader)'s history")
            }
            if following != leader { return decision([.follow(leader)], "\(leader) leads; streaming from \(upstream ?? "nobody")") }
            return decision([], "\(node) waits to stream from \(leader), the leader")
        }
    }

    private func decideWithoutLeader(_ server: LocalServer, cluster: ClusterView, decision: ([Action], String) -> Decision) -> Decision {
        if !cluster.initialized, !server.hasData {
            return decision([.bootstrap], "no cluster yet")
        }
        switch server {
        case .absent:
            return decision([], "no leader to clone from")
        case .starting:
            return decision([], "no leader; PostgreSQL is starting")
        case .primary:
            if let switchover = cluster.switchover, switchover.target != node {
                return decision([.fence("switchover to \(switchover.target) in progress")], "\(node) runs as primary without the leader key")
            }
            return decision([.acquireLeadership], "I am \(node), the primary, and nobody holds the leader key")
        case .stopped, .standby:
            let verdict = FailoverCandidacy(node: node, settings: settings).evaluate(server: server, cluster: cluster)
            switch verdict {
            case .eligible(let why):
                return decision([.acquireLeadership], why)
            case .ineligible(let why):
                if case .stopped(_, let wasPrimary) = server, !wasPrimary {
                    return decision([.startStandby(following: nil)], "no leader; \(why)")
                }
                return decision([], "no leader; \(why)")
            }
        }
    }

    /// After a failover the new primary waits for the other published synchronous standbys, which
    /// keeps PostgreSQL's set inside the published one.
    private func synchronousSetAfterPromotion(_ cluster: ClusterView) -> SynchronousSet? {
        guard settings.synchronousMode != .off else { return nil }
        let others = cluster.synchronous.members.filter { $0 != node }
        return SynchronousSet(members: others, quorum: 1)
    }
}
