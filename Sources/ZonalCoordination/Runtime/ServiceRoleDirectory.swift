import ZonalCore

/// Where the agents of a replicated service publish each node's role, and where balancers read
/// it: `/zonal/roles/<service>/<node>` holds `primary` or `replica` as text, on the lease of the
/// node's agent, so it disappears when the agent does. Services learn about each other through
/// such documented keys, never through imports.
public struct ServiceRoleDirectory: Sendable {
    /// Where every service's roles live.
    public static let rootPrefix = "/zonal/roles/"

    public let coordinator: any Coordinator
    public let service: String

    public init(coordinator: any Coordinator, service: String) {
        self.coordinator = coordinator
        self.service = service
    }

    /// The keys of this service's nodes.
    public var prefix: String { "\(Self.rootPrefix)\(service)/" }

    /// Publishes `node`'s role on `lease`; nil removes it (the node takes no traffic).
    public func publish(_ role: ServiceRoles.Role?, node: String, lease: LeaseID) async throws(CoordinatorError) {
        if let role {
            try await coordinator.put(prefix + node, value: Array(role.rawValue.utf8), lease: lease)
        } else {
            try await coordinator.delete(prefix + node)
        }
    }

    /// The roles in a read of ``prefix``, and the keys whose values are no role (anyone with the
    /// token could have written them): those nodes take no traffic.
    public func roles(in reading: RangeResult) -> (roles: ServiceRoles, unreadable: [String]) {
        var roles = ServiceRoles()
        var unreadable: [String] = []
        for keyValue in reading.keyValues {
            let (node, role) = entry(keyValue)
            guard let node else { continue }
            if role == nil { unreadable.append(keyValue.key) }
            roles.set(role, for: node)
        }
        return (roles, unreadable)
    }

    /// Applies one change of ``prefix`` to `roles`; false when the new value is no role.
    public func apply(_ event: WatchEvent, to roles: inout ServiceRoles) -> Bool {
        let (node, role) = entry(event.keyValue)
        guard let node else { return true }
        roles.set(event.kind == .delete ? nil : role, for: node)
        return event.kind == .delete || role != nil
    }

    /// The node a key names (nil for a key deeper down or outside), and the role its value says.
    private func entry(_ keyValue: KeyValue) -> (node: String?, role: ServiceRoles.Role?) {
        guard keyValue.key.hasPrefix(prefix) else { return (nil, nil) }
        let node = String(keyValue.key.dropFirst(prefix.count))
        guard !node.isEmpty, !node.contains("/") else { return (nil, nil) }
        return (node, ServiceRoles.Role(rawValue: String(decoding: keyValue.value, as: UTF8.self)))
    }
}
