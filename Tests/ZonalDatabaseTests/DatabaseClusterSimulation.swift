import Foundation
import ZonalCore
import ZonalTesting

@testable import ZonalDatabase

/// A whole database cluster on a virtual clock: a coordinator with leases, PostgreSQL servers
/// reduced to role, timeline and WAL position, streaming replication, a client that commits on
/// whatever primary it finds, and one ``DatabaseHA`` per node deciding. Faults (crashes that take
/// agent and server down together, partitions from the coordinator, full isolation, slow
/// replication) come from a seeded schedule, and every step checks the safety rules.
struct DatabaseClusterSimulation {
    struct Coordinator {
        var leases: [Int: (owner: String, expiresAt: MonotonicInstant)] = [:]
        var nextLease = 1
        var leader: (node: String, lease: Int)?
        var initialized = false
        var members: [String: (status: MemberStatus, lease: Int)] = [:]
        var leaderPosition: LeaderPosition?
        var synchronous = SynchronousSet.empty
        var switchover: SwitchoverRequest?

        mutating func expire(now: MonotonicInstant) {
            for (id, lease) in leases where lease.expiresAt <= now {
                leases[id] = nil
            }
            if let leader, leases[leader.lease] == nil { self.leader = nil }
            members = members.filter { leases[$0.value.lease] != nil }
        }
    }

    struct Node {
        var name: String
        var zone: String
        var server: DatabaseHA.LocalServer = .absent
        var lease: (id: Int, validUntil: MonotonicInstant)?
        var running = true
        /// Cut from the coordinator only (replication still flows).
        var partitioned = false
        /// Cut from everyone.
        var isolated = false
        var nextDecision = MonotonicInstant.zero
        var promotable = true
        /// Whom the server is configured to stream from.
        var following: String?

        var reachesCoordinator: Bool { running && !partitioned && !isolated }
    }

    struct Commit: Hashable {
        var timeline: Int
        var lsn: UInt64
    }

    let settings: DatabaseHA.Settings
    var coordinator = Coordinator()
    var nodes: [Node]
    var now = MonotonicInstant.zero
    var random: SeededRandom
    /// Commits the client was told succeeded.
    var acknowledged: [Commit] = []
    var violations: [String] = []
    var promotions = 0
    var log: [String] = []
    var slowReplication = false

    init(nodes: [String], settings: DatabaseHA.Settings, seed: UInt64) {
        self.settings = settings
        self.nodes = nodes.enumerated().map { Node(name: $1, zone: "z\($0)") }
        self.random = SeededRandom(seed: seed)
    }

    /// Timeline switch points of the one linear history promotions create.
    var history: [TimelineSwitch] = []

    /// Whether a standby at `mine` can stream from a server at `theirs` (not diverged from it).
    func canFollow(_ mine: WALPosition, _ theirs: WALPosition) -> Bool {
        !LeaderPosition(name: "", position: theirs, history: history).hasDiverged(mine)
    }

    // MARK: one step

    mutating func step(by delta: Duration = .milliseconds(100)) {
        now = now + delta
        coordinator.expire(now: now)
        renewLeases()
        replicate()
        commit()
        for index in nodes.indices where nodes[index].running && now >= nodes[index].nextDecision {
            cycle(index)
        }
        checkSafety()
    }

    private mutating func renewLeases() {
        for index in nodes.indices where nodes[index].reachesCoordinator {
            // Renew every third of the TTL, like LeaseKeeper.
            guard let lease = nodes[index].lease else { continue }
            guard coordinator.leases[lease.id] != nil else {
                nodes[index].lease = nil
                continue
            }
            if lease.validUntil - now <= settings.ttl * 2 / 3 {
                coordinator.leases[lease.id]?.expiresAt = now + settings.ttl
                nodes[index].lease?.validUntil = now + settings.ttl
            }
        }
    }

    private mutating func replicate() {
        for index in nodes.indices where nodes[index].running && !nodes[index].isolated {
            if case .standby(let mine, nil) = nodes[index].server, let following = nodes[index].following {
                nodes[index].server = .standby(mine, upstream: following)
            }
            guard case .standby(let mine, let upstream?) = nodes[index].server,
                let source = nodes.firstIndex(where: { $0.name == upstream }),
                nodes[source].running, !nodes[source].isolated,
                let theirs = nodes[source].server.position, canFollow(mine, theirs)
            else { continue }
            if slowReplication && random.chance(0.5) { continue }
            if theirs.lsn > mine.lsn || theirs.timeline > mine.timeline { nodes[index].server = .standby(theirs, upstream: upstream) }
        }
        // A standby whose upstream is gone or on another timeline loses its connection.
        for index in nodes.indices where nodes[index].running {
            guard case .standby(let mine, let upstream?) = nodes[index].server else { continue }
            let source = nodes.first { $0.name == upstream }
            let connected =
                source.map { source in
                    source.running && !source.isolated && !nodes[index].isolated && source.server.position.map { canFollow(mine, $0) } ?? false
                } ?? false
            if !connected { nodes[index].server = .standby(mine, upstream: nil) }
        }
    }

    /// The client commits on every reachable primary; a commit is acknowledged when PostgreSQL
    /// would return it: at once without synchronous standbys, else once `quorum` of them have it.
    private mutating func commit() {
        for index in nodes.indices where nodes[index].running && !nodes[index].isolated {
            guard case .primary(var position, let waitsFor) = nodes[index].server else { continue }
            position.lsn = LogSequenceNumber(position.lsn.value + UInt64.random(in: 1...3000, using: &random))
            nodes[index].server = .primary(position, synchronous: waitsFor)
            let name = nodes[index].name
            let flushed = waitsFor.members.compactMap { standby -> UInt64? in
                guard let node = nodes.first(where: { $0.name == standby }), node.running, !node.isolated,
                    case .standby(let theirs, name?) = node.server, theirs.timeline == position.timeline
                else { return nil }
                return theirs.lsn.value
            }.sorted(by: >)
            let acknowledgedThrough: UInt64?
            if waitsFor.members.isEmpty {
                acknowledgedThrough = position.lsn.value
            } else {
                acknowledgedThrough = flushed.count >= waitsFor.quorum ? flushed[waitsFor.quorum - 1] : nil
            }
            if let through = acknowledgedThrough, through > (acknowledged.last(where: { $0.timeline == position.timeline })?.lsn ?? 0) {
                acknowledged.append(Commit(timeline: position.timeline, lsn: through))
            }
        }
    }

    // MARK: the agent's cycle

    private mutating func cycle(_ index: Int) {
        let name = nodes[index].name
        if nodes[index].reachesCoordinator, nodes[index].lease == nil {
            let id = coordinator.nextLease
            coordinator.nextLease += 1
            coordinator.leases[id] = (name, now + settings.ttl)
            nodes[index].lease = (id, now + settings.ttl)
        }
        let cluster: DatabaseHA.ClusterView?
        if nodes[index].reachesCoordinator, let lease = nodes[index].lease {
            coordinator.members[name] = (status(of: nodes[index]), lease.id)
            cluster = DatabaseHA.ClusterView(
                leader: coordinator.leader?.node, initialized: coordinator.initialized,
                members: coordinator.members.values.map(\.status).sorted { $0.name < $1.name },
                leaderPosition: coordinator.leaderPosition, synchronous: coordinator.synchronous, switchover: coordinator.switchover)
            if coordinator.leader?.node == name, let position = nodes[index].server.position, case .primary = nodes[index].server {
                coordinator.leaderPosition = LeaderPosition(name: name, position: position, history: history)
            }
        } else {
            cluster = nil
        }
        let core = DatabaseHA(node: name, settings: settings)
        let decision = core.decide(
            .init(
                postgres: nodes[index].server, leaseValidUntil: nodes[index].lease?.validUntil, cluster: cluster,
                following: nodes[index].following), now: now)
        if !decision.actions.isEmpty { log.append("\(now) \(name): \(decision)") }
        for action in decision.actions {
            perform(action, at: index)
        }
        nodes[index].nextDecision = decision.decideAgainBy
    }

    private func status(of node: Node) -> MemberStatus {
        let role: MemberStatus.Role
        var upstream: String?
        switch node.server {
        case .absent: role = .uninitialized
        case .stopped, .starting: role = .stopped
        case .primary: role = .primary
        case .standby(_, let source):
            role = .standby
            upstream = source
        }
        return MemberStatus(
            name: node.name, zone: node.zone, role: role, position: node.server.position, upstream: upstream,
            postgresAddress: "", apiAddress: "", promotable: node.promotable, updatedAt: Date(timeIntervalSince1970: 0))
    }

    private mutating func perform(_ action: DatabaseHA.Action, at index: Int) {
        let name = nodes[index].name
        let reachable = nodes[index].reachesCoordinator
        switch action {
        case .clone(let leader), .startStandby(let leader?), .rejoin(let leader), .follow(let leader):
            nodes[index].following = leader
        case .promote, .startPrimary, .bootstrap:
            nodes[index].following = nil
        default:
            break
        }
        switch action {
        case .bootstrap:
            guard reachable, !coordinator.initialized, coordinator.leader == nil, let lease = nodes[index].lease else { return }
            coordinator.initialized = true
            coordinator.leader = (name, lease.id)
            nodes[index].server = .primary(WALPosition(timeline: 1, lsn: LogSequenceNumber(1000)), synchronous: .empty)
        case .clone(let leader):
            guard let source = nodes.first(where: { $0.name == leader }), source.running, !source.isolated, !nodes[index].isolated,
                let position = source.server.position
            else { return }
            nodes[index].server = .standby(position, upstream: leader)
        case .startStandby(let leader):
            let position = nodes[index].server.position
            nodes[index].server = .standby(position ?? WALPosition(timeline: 1, lsn: .zero), upstream: leader)
        case .startPrimary:
            guard case .stopped(let position?, _) = nodes[index].server else { return }
            nodes[index].server = .primary(position, synchronous: pgSetAfterRestart(name))
        case .rejoin(let leader):
            guard let source = nodes.first(where: { $0.name == leader }), source.running, !source.isolated, !nodes[index].isolated,
                let theirs = source.server.position, let mine = nodes[index].server.position
            else { return }
            // pg_rewind: back to where the histories forked, on the leader's timeline.
            let forkPoint = mine.timeline == theirs.timeline ? mine.lsn : (history.first { $0.timeline == mine.timeline }?.end ?? .zero)
            nodes[index].server = .standby(WALPosition(timeline: theirs.timeline, lsn: min(mine.lsn, forkPoint, theirs.lsn)), upstream: leader)
        case .follow(let leader):
            guard case .standby(let mine, _) = nodes[index].server else { return }
            nodes[index].server = .standby(mine, upstream: leader)
        case .acquireLeadership:
            guard reachable, coordinator.leader == nil, let lease = nodes[index].lease, coordinator.leases[lease.id] != nil else { return }
            coordinator.leader = (name, lease.id)
            coordinator.switchover = nil
        case .promote(let set):
            guard reachable, coordinator.leader?.node == name, let position = nodes[index].server.position else { return }
            checkPromotion(of: name, at: position)
            if let set { coordinator.synchronous = set }
            let promoted = WALPosition(timeline: position.timeline + 1, lsn: position.lsn)
            history.removeAll { $0.timeline >= position.timeline }
            history.append(TimelineSwitch(timeline: position.timeline, end: position.lsn))
            nodes[index].server = .primary(promoted, synchronous: set ?? .empty)
            coordinator.leaderPosition = LeaderPosition(name: name, position: promoted, history: history)
            promotions += 1
        case .fence:
            nodes[index].server = .stopped(nodes[index].server.position, wasPrimary: true)
        case .stepDown(let target):
            guard reachable, let position = nodes[index].server.position else { return }
            // A clean shutdown sends every commit to the streaming target before stopping.
            if let t = nodes.firstIndex(where: { $0.name == target }), case .standby(_, name?) = nodes[t].server {
                nodes[t].server = .standby(position, upstream: name)
            }
            nodes[index].server = .stopped(position, wasPrimary: true)
            coordinator.leaderPosition = LeaderPosition(name: name, position: position, history: history, final: true)
            coordinator.leader = nil
        case .configureSynchronousStandbys(let set):
            guard case .primary(let position, _) = nodes[index].server else { return }
            nodes[index].server = .primary(position, synchronous: set)
        case .publishSynchronousSet(let set):
            guard reachable, coordinator.leader?.node == name else { return }
            coordinator.synchronous = set
        }
    }

    /// A restarted primary reads its synchronous standbys back from its configuration file.
    private func pgSetAfterRestart(_ name: String) -> SynchronousSet {
        settings.synchronousMode == .off ? .empty : SynchronousSet(members: coordinator.synchronous.members.filter { $0 != name })
    }

    // MARK: safety

    private mutating func checkPromotion(of name: String, at position: WALPosition) {
        let missing = acknowledged.filter { $0.timeline >= position.timeline && $0.lsn > position.lsn.value }
        guard let worst = missing.map(\.lsn).max() else { return }
        let lost = worst - position.lsn.value
        switch settings.synchronousMode {
        case .off:
            if lost > settings.maximumLagOnFailover + 3000 * 30 {
                violations.append("\(now): \(name) promoted \(lost) bytes behind acknowledged commits (async)")
            }
        case .on, .strict:
            violations.append("\(now): \(name) promoted at \(position.lsn) missing an acknowledged commit at \(LogSequenceNumber(worst))")
        }
    }

    private mutating func checkSafety() {
        let writable = nodes.filter { node in
            guard node.running, case .primary = node.server else { return false }
            return true
        }
        if writable.count > 1 {
            violations.append("\(now): two writable primaries: \(writable.map(\.name))")
        }
    }

    // MARK: faults

    mutating func crash(_ index: Int) {
        nodes[index].running = false
        nodes[index].lease = nil
        if case .primary(let position, _) = nodes[index].server { nodes[index].server = .stopped(position, wasPrimary: true) }
        if case .standby(let position, _) = nodes[index].server { nodes[index].server = .stopped(position, wasPrimary: false) }
    }

    mutating func restart(_ index: Int) {
        nodes[index].running = true
        nodes[index].nextDecision = now
    }

    /// The primary's name when exactly one node runs as primary with the leader key.
    var healthyLeader: String? {
        guard let leader = coordinator.leader?.node,
            let node = nodes.first(where: { $0.name == leader }), node.running, case .primary = node.server
        else { return nil }
        return leader
    }
}
