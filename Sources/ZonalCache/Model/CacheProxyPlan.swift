import ZonalCore

/// What one proxy instance needs, resolved from the topology: where it listens, the cache
/// service behind it and its nodes, and its limits.
public struct CacheProxyPlan: Sendable, Hashable {
    /// The proxy service's name.
    public var service: String
    public var node: String
    public var host: String
    public var port: Int
    public var adminPort: Int?
    public var spec: CacheProxySpec
    /// The nodes of the cache service behind the proxy.
    public var cacheNodes: [CacheNodePlan.Endpoint]
    public var passwordFile: String

    public init(topology: Topology, service name: String, node nodeName: String, stateDirectory: String) throws(CacheError) {
        guard let service = topology.services.first(where: { $0.name == name }), case .redisProxy(let spec) = service.kind else {
            throw .configuration("the topology has no service of kind redis-proxy named \(name)")
        }
        guard service.nodes.contains(nodeName), let node = topology.node(named: nodeName) else {
            throw .configuration("service \(name) has no instance on node \(nodeName); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        let (cache, cacheSpec) = try CacheNodePlan.service(named: spec.cache, in: topology)
        self.service = name
        self.node = nodeName
        self.host = node.address
        self.port = service.port
        self.adminPort = service.adminPort
        self.spec = spec
        self.cacheNodes = CacheNodePlan.endpoints(of: cache, spec: cacheSpec, in: topology)
        self.passwordFile = CachePassword.file(service: cache.name, stateDirectory: stateDirectory)
    }

    public var address: String { IPAddressText.hostPort(host, port) }
}
