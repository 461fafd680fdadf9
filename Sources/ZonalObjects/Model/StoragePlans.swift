import Foundation
import ZonalCore

/// What one storage node needs, resolved from the topology: where it listens and keeps its data.
public struct StorageNodePlan: Sendable, Hashable {
    /// The `object-store` service's name.
    public var service: String
    public var node: String
    public var host: String
    public var port: Int
    public var adminPort: Int?
    /// The directory of this node's replicas and index.
    public var dataDirectory: String
    /// Every storage node of the store, this one included, and how many replicas each object
    /// has: where the scrubber looks for the other replicas of what this node holds.
    public var storageNodes: [S3GatewayPlan.StorageEndpoint]
    public var replicas: Int
    public var scrubRate: Int
    public var scrubInterval: Duration

    public init(topology: Topology, service name: String, node nodeName: String, stateDirectory: String) throws(ObjectsError) {
        let (service, spec) = try Self.store(named: name, in: topology)
        guard service.nodes.contains(nodeName), let node = topology.node(named: nodeName) else {
            throw .configuration("service \(name) has no instance on node \(nodeName); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        self.service = name
        self.node = nodeName
        self.host = node.address
        self.port = service.port
        self.adminPort = service.adminPort
        let template = spec.dataDirectory ?? "\(URL(fileURLWithPath: stateDirectory).standardizedFileURL.path)/{service}/{node}"
        self.dataDirectory = template.replacingOccurrences(of: "{service}", with: name).replacingOccurrences(of: "{node}", with: nodeName)
        self.storageNodes = Self.endpoints(of: service, in: topology)
        self.replicas = spec.replicas
        self.scrubRate = spec.scrubRate
        self.scrubInterval = spec.scrubInterval
    }

    /// The storage nodes of the `object-store` service `store`, as front ends and peers reach them.
    static func endpoints(of store: Topology.Service, in topology: Topology) -> [S3GatewayPlan.StorageEndpoint] {
        store.nodes.compactMap { name in
            topology.node(named: name).map { S3GatewayPlan.StorageEndpoint(name: name, zone: $0.zone, host: $0.address, port: store.port) }
        }
    }

    public var placement: ReplicaPlacement {
        ReplicaPlacement(nodes: storageNodes.map(\.placementNode), replicas: replicas)
    }

    /// The `object-store` service named `name`.
    public static func store(named name: String, in topology: Topology) throws(ObjectsError) -> (Topology.Service, ObjectStoreSpec) {
        guard let service = topology.services.first(where: { $0.name == name }), case .objectStore(let spec) = service.kind else {
            throw .configuration("the topology has no service of kind object-store named \(name)")
        }
        return (service, spec)
    }
}

/// What one S3 front end needs: where it listens, the region it signs for, the storage nodes
/// behind it with their zones, and the replica rules of their store.
public struct S3GatewayPlan: Sendable, Hashable {
    /// A storage node as the front end reaches it.
    public struct StorageEndpoint: Sendable, Hashable {
        public var name: String
        public var zone: String
        public var host: String
        public var port: Int

        public init(name: String, zone: String, host: String, port: Int) {
            self.name = name
            self.zone = zone
            self.host = host
            self.port = port
        }

        public var baseURL: String { "http://\(IPAddressText.hostPort(host, port))" }

        var placementNode: ReplicaPlacement.StorageNode { .init(name: name, zone: zone) }
    }

    public var service: String
    public var node: String
    public var zone: String
    public var host: String
    public var port: Int
    public var adminPort: Int?
    public var spec: S3GatewaySpec
    public var store: String
    public var region: String
    public var replicas: Int
    public var writeQuorum: Int
    public var storageNodes: [StorageEndpoint]
    public var credentialsFile: String
    /// The topology's other object stores, as replication rules reach them.
    public var peerStores: [PeerStore]
    /// The replication rules the topology declares for this store.
    public var declaredRules: [ReplicationRule]

    /// Another object store of the topology, seen through its front ends.
    public struct PeerStore: Sendable, Hashable {
        public var name: String
        public var region: String
        /// Its S3 front ends, `http://host:port`.
        public var endpoints: [String]
        public var credentialsFile: String
    }

    public init(topology: Topology, service name: String, node nodeName: String, stateDirectory: String) throws(ObjectsError) {
        guard let service = topology.services.first(where: { $0.name == name }), case .s3(let spec) = service.kind else {
            throw .configuration("the topology has no service of kind s3 named \(name)")
        }
        guard service.nodes.contains(nodeName), let node = topology.node(named: nodeName) else {
            throw .configuration("service \(name) has no instance on node \(nodeName); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        let (store, storeSpec) = try StorageNodePlan.store(named: spec.store, in: topology)
        self.service = name
        self.node = nodeName
        self.zone = node.zone
        self.host = node.address
        self.port = service.port
        self.adminPort = service.adminPort
        self.spec = spec
        self.store = store.name
        self.region = spec.region ?? topology.regions.first { $0.zones.contains(node.zone) }?.name ?? "us-east-1"
        self.replicas = storeSpec.replicas
        self.writeQuorum = storeSpec.writeQuorum
        self.storageNodes = StorageNodePlan.endpoints(of: store, in: topology)
        self.credentialsFile = StoreCredentials.file(store: store.name, stateDirectory: stateDirectory)
        self.peerStores = Self.peerStores(of: topology, besides: store.name, stateDirectory: stateDirectory)
        self.declaredRules = storeSpec.replication.map(ReplicationRule.init(declared:))
    }

    /// Every object store of `topology` but `own` that has front ends.
    static func peerStores(of topology: Topology, besides own: String, stateDirectory: String) -> [PeerStore] {
        topology.services.compactMap { service -> PeerStore? in
            guard case .objectStore = service.kind, service.name != own else { return nil }
            let frontEnds = topology.services.compactMap { frontEnd -> (Topology.Service, S3GatewaySpec)? in
                guard case .s3(let spec) = frontEnd.kind, spec.store == service.name else { return nil }
                return (frontEnd, spec)
            }
            guard let (first, spec) = frontEnds.first else { return nil }
            let endpoints = frontEnds.flatMap { frontEnd, _ in
                frontEnd.nodes.compactMap { topology.node(named: $0) }.map { "http://\(IPAddressText.hostPort($0.address, frontEnd.port))" }
            }
            let zone = first.nodes.first.flatMap { topology.node(named: $0)?.zone }
            let region = spec.region ?? topology.regions.first { region in zone.map(region.zones.contains) ?? false }?.name ?? "us-east-1"
            return PeerStore(
                name: service.name, region: region, endpoints: endpoints,
                credentialsFile: StoreCredentials.file(store: service.name, stateDirectory: stateDirectory))
        }
    }

    public var address: String { IPAddressText.hostPort(host, port) }

    public var placement: ReplicaPlacement {
        ReplicaPlacement(nodes: storageNodes.map(\.placementNode), replicas: replicas)
    }
}
