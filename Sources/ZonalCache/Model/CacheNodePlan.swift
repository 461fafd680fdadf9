import Foundation
import ZonalCore

/// Everything one node's agent needs, resolved from the topology: who it is, its peers, where
/// its data lives and how failover behaves.
public struct CacheNodePlan: Sendable, Hashable {
    /// One node of the service as the others reach it.
    public struct Endpoint: Sendable, Hashable {
        public var name: String
        public var zone: String
        public var host: String
        /// Redis's port.
        public var port: Int
        /// The agent's HTTP API port.
        public var apiPort: Int
        /// The agent's Sentinel-compatible listener.
        public var sentinelPort: Int
        public var promotable: Bool

        public init(name: String, zone: String, host: String, port: Int, apiPort: Int, sentinelPort: Int, promotable: Bool = true) {
            self.name = name
            self.zone = zone
            self.host = host
            self.port = port
            self.apiPort = apiPort
            self.sentinelPort = sentinelPort
            self.promotable = promotable
        }

        public var redisAddress: String { IPAddressText.hostPort(host, port) }
        public var apiAddress: String { IPAddressText.hostPort(host, apiPort) }
    }

    public var service: String
    public var me: Endpoint
    /// The other nodes of the service.
    public var peers: [Endpoint]
    public var spec: CacheSpec
    public var dataDirectory: String
    /// The service's password (see ``CachePassword``).
    public var passwordFile: String

    public init(service: String, me: Endpoint, peers: [Endpoint], spec: CacheSpec, dataDirectory: String, passwordFile: String) {
        self.service = service
        self.me = me
        self.peers = peers
        self.spec = spec
        self.dataDirectory = dataDirectory
        self.passwordFile = passwordFile
    }

    public var settings: CacheHA.Settings { spec.failover }
    public var serverPath: String { spec.serverPath ?? "/usr/bin/redis-server" }
    public var logFile: String { (dataDirectory as NSString).deletingLastPathComponent + "/redis.log" }

    /// Every node, this one included.
    public var members: [Endpoint] { ([me] + peers).sorted { $0.name < $1.name } }

    func endpoint(_ name: String) -> Endpoint? {
        members.first { $0.name == name }
    }
}

extension CacheNodePlan {
    /// The plan of `node`'s agent in cache service `service`. Data directories default to
    /// `<stateDirectory>/<service>/<node>/data`, made absolute.
    public init(topology: Topology, service name: String, node nodeName: String, stateDirectory: String) throws(CacheError) {
        let (service, spec) = try Self.service(named: name, in: topology)
        guard service.nodes.contains(nodeName) else {
            throw .configuration("service \(name) has no instance on node \(nodeName); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        let endpoints = Self.endpoints(of: service, spec: spec, in: topology)
        let base = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        let template = spec.dataDirectory ?? "\(base)/{service}/{node}/data"
        let dataDirectory = URL(fileURLWithPath: template.replacingOccurrences(of: "{service}", with: name).replacingOccurrences(of: "{node}", with: nodeName))
            .standardizedFileURL.path
        self.init(
            service: name, me: endpoints.first { $0.name == nodeName }!, peers: endpoints.filter { $0.name != nodeName }, spec: spec,
            dataDirectory: dataDirectory, passwordFile: CachePassword.file(service: name, stateDirectory: stateDirectory))
    }

    /// The `redis` service named `name`, or an error saying what it is instead.
    public static func service(named name: String, in topology: Topology) throws(CacheError) -> (Topology.Service, CacheSpec) {
        guard let service = topology.services.first(where: { $0.name == name }) else {
            throw .configuration("the topology has no service named \(name)")
        }
        guard case .redis(let spec) = service.kind else {
            throw .configuration("service \(name) is of kind \(service.kind.name), not redis")
        }
        return (service, spec)
    }

    /// Every node of a `redis` service as clients and peers reach it.
    public static func endpoints(of service: Topology.Service, spec: CacheSpec, in topology: Topology) -> [Endpoint] {
        service.nodes.compactMap { nodeName -> Endpoint? in
            guard let node = topology.node(named: nodeName) else { return nil }
            return Endpoint(
                name: node.name, zone: node.zone, host: node.address, port: service.port, apiPort: service.adminPort ?? service.port + 1,
                sentinelPort: spec.sentinelPort(servicePort: service.port) ?? service.port, promotable: !spec.noFailover.contains(node.name))
        }
    }
}
