import ZonalCore

/// What one balancer instance runs, worked out from the topology: its listeners on its node's
/// address, and each pool with its servers resolved (a pool naming a service gets one server per
/// instance of that service, with the service's zones and health check).
public struct BalancerPlan: Sendable, Hashable {
    public struct Listener: Sendable, Hashable {
        public var name: String
        public var host: String
        public var port: Int
        public var mode: BalancerSpec.Mode
        public var pool: String
        public var tls: BalancerSpec.TLSFiles?
        public var http2: Bool
    }

    public var topology: String
    public var service: String
    public var node: String
    public var listeners: [Listener]
    public var pools: [PoolPlan]
    public var http: HTTPSpec
    public var connections: ConnectionLimits
    public var adminHost: String
    public var adminPort: Int?
    public var adminToken: String?

    /// The plan of the instance of balancer service `service` on node `node`.
    public init(topology: Topology, service serviceName: String, node nodeName: String) throws(BalancerPlanError) {
        guard let service = topology.services.first(where: { $0.name == serviceName }) else {
            throw BalancerPlanError("the topology has no service named \(serviceName)")
        }
        guard case .balancer(let spec) = service.kind else {
            throw BalancerPlanError("service \(serviceName) is of kind \(service.kind.name), not balancer")
        }
        guard service.nodes.contains(nodeName), let node = topology.node(named: nodeName) else {
            throw BalancerPlanError("service \(serviceName) has no instance on node \(nodeName); it runs on: \(service.nodes.joined(separator: ", "))")
        }
        self.topology = topology.name
        self.service = serviceName
        self.node = nodeName
        listeners = spec.listeners.map {
            Listener(name: $0.name, host: node.address, port: $0.port, mode: $0.mode, pool: $0.pool, tls: $0.tls, http2: $0.http2)
        }
        pools = try spec.pools.map { pool throws(BalancerPlanError) in try Self.plan(of: pool, in: topology) }
        http = spec.http
        connections = spec.connections
        adminHost = node.address
        adminPort = service.adminPort
        adminToken = spec.adminToken
    }

    private static func plan(of pool: BalancerSpec.Pool, in topology: Topology) throws(BalancerPlanError) -> PoolPlan {
        var backends = pool.servers.map { Backend(id: $0.name, host: $0.address, port: $0.port, zone: $0.zone, weight: $0.weight) }
        var health = pool.health ?? HealthCheckSpec(probe: .tcp(port: nil))
        var primaryZone = pool.primaryZone
        var secondaryZone = pool.secondaryZone
        if let name = pool.service {
            guard let backing = topology.services.first(where: { $0.name == name }) else {
                throw BalancerPlanError("pool \(pool.name) uses service \(name), which the topology does not declare")
            }
            backends = topology.instances.filter { $0.service.name == name }.map {
                Backend(id: $0.id, host: $0.node.address, port: backing.port, zone: $0.node.zone)
            }
            health = pool.health ?? backing.health
            primaryZone = primaryZone ?? backing.primaryZone
            secondaryZone = secondaryZone ?? backing.secondaryZone
        }
        let persistence: PoolPlan.Persistence =
            switch pool.persistence.kind {
            case .none: .none
            case .sourceIP: .sourceAddress(timeout: pool.persistence.timeout)
            case .cookie: .cookie(PersistenceCookie(name: pool.persistence.cookie ?? "ZONALSRV", timeout: pool.persistence.timeout))
            case .appCookie: .applicationCookie(name: pool.persistence.cookie ?? "")
            }
        var routing: PoolPlan.DatabaseRouting?
        if let service = pool.service, let role = pool.role { routing = .init(service: service, role: role) }
        return PoolPlan(
            name: pool.name, backends: backends, scheduling: pool.scheduling, persistence: persistence,
            primaryZone: primaryZone, secondaryZone: secondaryZone, retries: pool.retries, connectTimeout: pool.connectTimeout,
            healthCheck: routing == nil ? health : nil, failover: .init(failbackHoldDown: pool.failbackHoldDown),
            outliers: .init(
                consecutiveFailures: pool.outliers.consecutiveFailures, baseEjection: pool.outliers.baseEjection, maxEjection: pool.outliers.maxEjection),
            databaseRouting: routing
        )
    }
}

public struct BalancerPlanError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
