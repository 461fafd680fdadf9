import ZonalCore

/// Which nodes of a replicated service (PostgreSQL today, Redis next) take writes and which take
/// reads, as the service's agents publish it under ``ServiceRoleDirectory``'s keys. Pure: the
/// rule for who takes traffic lives here once, for every balancer and proxy.
public struct ServiceRoles: Sendable, Hashable {
    /// What an agent says of its own node.
    public typealias Role = ReplicaRole

    public private(set) var byNode: [String: Role]

    public init(byNode: [String: Role] = [:]) {
        self.byNode = byNode
    }

    /// Records what a node's key says now; nil when the key is gone or says neither role.
    public mutating func set(_ role: Role?, for node: String) {
        byNode[node] = role
    }

    /// The node that takes writes: the one primary. None while no node, or more than one,
    /// says primary (a handover under way), so that no write can reach a server being fenced.
    public var writer: String? {
        let primaries = byNode.filter { $0.value == .primary }
        return primaries.count == 1 ? primaries.first?.key : nil
    }

    /// The nodes that take reads: the replicas, or the writer while there is none.
    public var readers: Set<String> {
        let replicas = Set(byNode.filter { $0.value == .replica }.keys)
        return replicas.isEmpty ? Set([writer].compactMap { $0 }) : replicas
    }

    /// The nodes a pool for `role` sends connections to.
    public func nodes(takingTrafficFor role: Role) -> Set<String> {
        switch role {
        case .primary: Set([writer].compactMap { $0 })
        case .replica: readers
        }
    }
}
