import ZonalCore
import ZonalTesting

@testable import ZonalCache

/// A whole cache service on a virtual clock: a coordinator with leases, Redis servers reduced to
/// role and the history of writes they hold, replication that copies the master's history to
/// linked replicas, a client that writes through the proxy's rule (only to the node publishing
/// the `primary` role), and one ``CacheHA`` per node deciding. Faults come from a seeded schedule;
/// every step checks that at most one node takes writes.
struct CacheClusterSimulation {
    struct Node {
        var name: String
        var running = true
        /// Cut from the coordinator only (replication and clients still reach it).
        var partitioned = false
        var redis: Redis = .stopped
        var history: [Int] = []
        var paused = false
        var upstream: String?
        var lease: (id: Int, validUntil: MonotonicInstant, renewAt: MonotonicInstant)?
        var nextDecision = MonotonicInstant.zero
        var seenLeader = false
        var leaderlessSince: MonotonicInstant?

        enum Redis: Equatable { case stopped, master, replica }

        var reachesCoordinator: Bool { running && !partitioned }
    }

    let settings = CacheHA.Settings()
    var nodes: [Node]
    var now = MonotonicInstant.zero
    var leases: [Int: (owner: String, expiresAt: MonotonicInstant)] = [:]
    var nextLease = 1
    var leader: (node: String, lease: Int)?
    var members: [String: (member: CacheMember, lease: Int)] = [:]
    var acknowledged: [Int] = []
    var nextWrite = 1
    var violations: [String] = []
    var log: [String] = []

    init(nodes names: [String]) {
        nodes = names.map { Node(name: $0) }
    }

    /// The node the proxy sends writes to: the one whose role key says primary.
    var routedMaster: String? {
        let primaries = nodes.filter { node in
            node.running && node.redis == .master && !node.paused && leader?.node == node.name && members[node.name] != nil
        }
        return primaries.count == 1 ? primaries.first?.name : nil
    }

    /// Masters that would acknowledge a write sent to them directly.
    var writableMasters: [String] {
        nodes.filter { $0.running && $0.redis == .master && !$0.paused && lease(of: $0) }.map(\.name)
    }

    private func lease(of node: Node) -> Bool {
        guard let lease = node.lease else { return false }
        return leases[lease.id] != nil
    }

    mutating func run(for duration: Duration) {
        let end = now + duration
        while now < end {
            step()
            now = now + .milliseconds(10)
        }
    }

    mutating func step() {
        for (id, lease) in leases where lease.expiresAt <= now { leases[id] = nil }
        if let held = leader, leases[held.lease] == nil { leader = nil }
        members = members.filter { leases[$0.value.lease] != nil }
        for index in nodes.indices { renew(index) }
        for index in nodes.indices where nodes[index].running && now >= nodes[index].nextDecision { decide(index) }
        write()
        replicate()
        if writableMasters.count > 1 { violations.append("\(now): \(writableMasters) all take writes") }
    }

    private mutating func renew(_ index: Int) {
        guard nodes[index].reachesCoordinator else { return }
        if let lease = nodes[index].lease, leases[lease.id] != nil {
            guard now >= lease.renewAt else { return }
            leases[lease.id]!.expiresAt = now + settings.ttl
            nodes[index].lease = (lease.id, now + settings.ttl, now + settings.ttl / 3)
        } else {
            leases[nextLease] = (nodes[index].name, now + settings.ttl)
            nodes[index].lease = (nextLease, now + settings.ttl, now + settings.ttl / 3)
            nodes[index].seenLeader = false
            nextLease += 1
        }
    }

    private func local(_ node: Node) -> CacheHA.LocalServer {
        switch node.redis {
        case .stopped: .stopped
        case .master: .master(offset: Int64(node.history.count), paused: node.paused)
        case .replica: .replica(offset: Int64(node.history.count), upstream: node.upstream, linkUp: linked(node) != nil)
        }
    }

    /// The master a replica copies from, while the link is up.
    private func linked(_ node: Node) -> Int? {
        guard node.redis == .replica, let upstream = node.upstream, let index = nodes.firstIndex(where: { $0.name == upstream }),
            nodes[index].running, nodes[index].redis == .master
        else { return nil }
        return index
    }

    private mutating func decide(_ index: Int) {
        var node = nodes[index]
        let view: CacheHA.ClusterView? =
            node.reachesCoordinator ? .init(leader: leader?.node, members: members.values.map(\.member).sorted { $0.name < $1.name }) : nil
        if let view {
            if view.leader == nil {
                if node.leaderlessSince == nil { node.leaderlessSince = now }
            } else {
                node.seenLeader = true
                node.leaderlessSince = nil
            }
            if let lease = node.lease, leases[lease.id] != nil {
                let state = local(node)
                var member = CacheMember(name: node.name, zone: "z", role: .stopped, redisAddress: "", updatedAt: .distantPast)
                if case .master = state { member.role = .master }
                if case .replica(_, _, let linkUp) = state {
                    member.role = .replica
                    member.linkUp = linkUp
                    member.upstream = node.upstream
                }
                member.offset = state == .stopped ? nil : Int64(node.history.count)
                members[node.name] = (member, lease.id)
            }
        }
        let core = CacheHA(node: node.name, peers: nodes.map(\.name).filter { $0 != node.name }, settings: settings)
        let decision = core.decide(
            .init(
                redis: local(node), leaseValidUntil: node.lease?.validUntil, cluster: view, leaderlessSince: node.leaderlessSince, seenLeader: node.seenLeader),
            now: now)
        if !decision.actions.isEmpty { log.append("\(now) \(node.name): \(decision)") }
        node.nextDecision = decision.actions.isEmpty ? decision.decideAgainBy : now + .milliseconds(10)
        for action in decision.actions {
            switch action {
            case .startReplica(let upstream):
                node.redis = upstream == nil ? .master : .replica
                node.upstream = upstream
                node.paused = upstream == nil
            case .startMaster:
                node.redis = .master
                node.paused = false
            case .acquireLeadership:
                if leader == nil, let lease = node.lease, leases[lease.id] != nil, node.reachesCoordinator { leader = (node.name, lease.id) }
            case .promote:
                node.redis = .master
                node.upstream = nil
                node.paused = false
            case .follow(let master):
                node.redis = .replica
                node.upstream = master
                node.paused = false
            case .fence:
                node.paused = true
            case .unfence:
                node.paused = false
            }
        }
        nodes[index] = node
    }

    /// Linked replicas hold what their master holds (full or partial resynchronisation alike).
    private mutating func replicate() {
        for index in nodes.indices {
            if let master = linked(nodes[index]) { nodes[index].history = nodes[master].history }
        }
    }

    private mutating func write() {
        guard let target = routedMaster, let index = nodes.firstIndex(where: { $0.name == target }) else { return }
        nodes[index].history.append(nextWrite)
        acknowledged.append(nextWrite)
        nextWrite += 1
    }

    mutating func crash(_ index: Int) {
        nodes[index].running = false
        nodes[index].redis = .stopped
        nodes[index].lease = nil
        nodes[index].paused = false
    }

    /// The agent comes back (its Redis reloads its append-only file: the history stays).
    mutating func restart(_ index: Int) {
        guard !nodes[index].running else { return }
        nodes[index].running = true
        nodes[index].seenLeader = false
        nodes[index].leaderlessSince = nil
        nodes[index].nextDecision = now
    }

    /// Acknowledged writes the current master does not hold.
    var lostWrites: [Int] {
        guard let master = routedMaster, let node = nodes.first(where: { $0.name == master }) else { return acknowledged }
        let held = Set(node.history)
        return acknowledged.filter { !held.contains($0) }
    }
}
