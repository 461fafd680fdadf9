/// What a service of kind `object-store` runs: one storage node per node it is placed on, each
/// keeping replicas of object versions in a local directory with a node-local index. Objects
/// are spread over the nodes' zones by the S3 front ends (`kind: s3`) in front of it.
public struct ObjectStoreSpec: Sendable, Hashable {
    /// Replicas of every object version, in as many different zones. Default 3.
    public var replicas: Int
    /// Replicas that must be durable before a write is acknowledged. Default 2 (of 3): a zone
    /// can be lost without losing an acknowledged write or stopping writes.
    public var writeQuorum: Int
    /// Where each node keeps its replicas: `{node}` and `{service}` are replaced. Default
    /// `<state directory>/{service}/{node}`.
    public var dataDirectory: String?

    public init(replicas: Int = 3, writeQuorum: Int = 2, dataDirectory: String? = nil) {
        self.replicas = replicas
        self.writeQuorum = writeQuorum
        self.dataDirectory = dataDirectory
    }
}

/// What a service of kind `s3` runs: a stateless S3 front end in front of an `object-store`
/// service, which signs nothing itself and keeps nothing but connections.
public struct S3GatewaySpec: Sendable, Hashable {
    /// The `object-store` service behind the front end.
    public var store: String
    /// The region requests must be signed for. Default: the region of the front end's node.
    public var region: String?
    /// Base domains for virtual-host-style addressing (`bucket.s3.zonal.test`). Default none:
    /// path style only.
    public var domains: [String]
    /// The largest object a single PUT may write. Default 5 GiB, S3's own limit.
    public var maxObjectSize: Int64
    /// How long a storage node may take to answer before the front end gives up on it for
    /// this request and counts it failed. Default 10 s.
    public var nodeTimeout: Duration

    public init(store: String, region: String? = nil, domains: [String] = [], maxObjectSize: Int64 = 5 << 30, nodeTimeout: Duration = .seconds(10)) {
        self.store = store
        self.region = region
        self.domains = domains
        self.maxObjectSize = maxObjectSize
        self.nodeTimeout = nodeTimeout
    }
}
