import Foundation

/// What `zonal status` shows: the topology and every instance's process and health.
public struct StatusReport: Codable, Sendable {
    public var topology: String
    public var coordinator: CoordinatorHealth
    /// The control API address.
    public var control: String
    public var startedAt: Date
    public var instances: [InstanceStatus]

    public init(topology: String, coordinator: CoordinatorHealth, control: String, startedAt: Date, instances: [InstanceStatus]) {
        self.topology = topology
        self.coordinator = coordinator
        self.control = control
        self.startedAt = startedAt
        self.instances = instances
    }
}

/// Whether the coordinator answers, and who leads it.
public struct CoordinatorHealth: Codable, Sendable, Hashable, CustomStringConvertible {
    /// `embedded` or `etcd`.
    public var backend: String
    public var endpoints: [String]
    public var healthy: Bool
    /// The endpoint (embedded) or etcd member (hex ID) that leads; nil when unreachable.
    public var leader: String?
    public var revision: Int64?
    /// Why it is unhealthy.
    public var error: String?

    public init(backend: String, endpoints: [String], healthy: Bool, leader: String? = nil, revision: Int64? = nil, error: String? = nil) {
        self.backend = backend
        self.endpoints = endpoints
        self.healthy = healthy
        self.leader = leader
        self.revision = revision
        self.error = error
    }

    public var description: String {
        guard healthy else { return "\(backend) coordinator unreachable (\(error ?? "no answer"))" }
        return "\(backend) coordinator healthy, leader \(leader ?? "?"), revision \(revision ?? 0)"
    }
}

/// One service instance as the supervisor sees it.
public struct InstanceStatus: Codable, Sendable, Hashable {
    public var id: String
    public var service: String
    public var kind: String
    public var region: String
    public var zone: String
    public var node: String
    /// `primary-zone` or `secondary-zone` for a service with failover zones; `member` otherwise.
    public var role: String
    /// `unknown`, `healthy` or `unhealthy`, from the health checks.
    public var health: String
    /// The latest probe result.
    public var healthDetail: String?
    public var healthSince: Date?
    /// `running`, `restarting`, `failed` (by an operator), `stopping`, `stopped`.
    public var process: String
    public var pid: Int32?
    public var restarts: Int
    /// Where clients connect, `host:port`.
    public var address: String
    public var adminAddress: String?

    public var isHealthy: Bool { health == "healthy" }
}

/// The answer to `zonal fail` and `zonal recover`.
public struct OperatorActionResult: Codable, Sendable {
    public var action: String
    public var scope: String
    public var name: String
    /// Per affected instance, what was done.
    public var instances: [String: String]
}
