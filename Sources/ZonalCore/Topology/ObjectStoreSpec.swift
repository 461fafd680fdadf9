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
    /// Bytes per second each node's scrubber reads to verify its replicas, so checking never
    /// takes the disk from clients. Default 16 MiB/s; 0 turns the scrubber off.
    public var scrubRate: Int
    /// How often a node starts a scrub pass over all its replicas (a pass that takes longer
    /// is followed by the next at once). Default 24 hours.
    public var scrubInterval: Duration
    /// Replication rules declared with the store: each copies a bucket (or the keys under a
    /// prefix) to another object store of the topology, existing objects included. Rules made
    /// with `zonal objects replication set` live in the coordinator beside these.
    public var replication: [ObjectReplicationSpec] = []

    public init(
        replicas: Int = 3, writeQuorum: Int = 2, dataDirectory: String? = nil, scrubRate: Int = 16 << 20, scrubInterval: Duration = .seconds(86_400)
    ) {
        self.replicas = replicas
        self.writeQuorum = writeQuorum
        self.dataDirectory = dataDirectory
        self.scrubRate = scrubRate
        self.scrubInterval = scrubInterval
    }
}

/// A replication rule of the topology: `bucket` (under `prefix`) of its store goes to
/// `to_bucket` (default: the same name) of the store `to_store`, which is made there when missing.
public struct ObjectReplicationSpec: Sendable, Hashable {
    public var name: String
    public var bucket: String
    public var prefix: String
    /// Delete markers and deletes of versions go too. Default false.
    public var deletes: Bool
    public var toStore: String
    public var toBucket: String?

    public init(name: String, bucket: String, prefix: String = "", deletes: Bool = false, toStore: String, toBucket: String? = nil) {
        self.name = name
        self.bucket = bucket
        self.prefix = prefix
        self.deletes = deletes
        self.toStore = toStore
        self.toBucket = toBucket
    }

    /// Rule names: 1 to 64 letters, digits, `-`, `_` or `.`, which a coordinator key and a
    /// metric label can carry.
    public static func isName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || [UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ".")].contains(byte)
            }
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
    /// A multipart upload neither completed nor aborted this long after it began is aborted and
    /// its parts removed (S3's AbortIncompleteMultipartUpload, for every bucket). Default 7 days.
    public var uploadExpiry: Duration

    public init(
        store: String, region: String? = nil, domains: [String] = [], maxObjectSize: Int64 = 5 << 30, nodeTimeout: Duration = .seconds(10),
        uploadExpiry: Duration = .seconds(7 * 86_400)
    ) {
        self.store = store
        self.region = region
        self.domains = domains
        self.maxObjectSize = maxObjectSize
        self.nodeTimeout = nodeTimeout
        self.uploadExpiry = uploadExpiry
    }
}

extension ObjectStoreSpec {
    /// Whether `name` can be a bucket's: 3 to 63 lower-case letters, digits, dots and hyphens
    /// (the store itself also wants a letter or digit at each end).
    public static func isBucketName(_ name: String) -> Bool {
        (3...63).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
    }
}

/// `store:NAME/BUCKET[/PREFIX]`: a bucket of an object store of the same topology, where a
/// database's backups or a backup policy's repository can go without an endpoint or keys to
/// configure (the store's front end and root key are found from the topology and state directory).
public struct ObjectStoreReference: Sendable, Hashable {
    public var store: String
    public var bucket: String
    /// Key prefix without slashes at either end; may be empty.
    public var prefix: String

    public static let scheme = "store:"

    public init(store: String, bucket: String, prefix: String = "") {
        self.store = store
        self.bucket = bucket
        self.prefix = prefix
    }

    /// Nil when `text` does not start with `store:`; throws when it does but names no store and bucket.
    public init?(parsing text: String) throws(ObjectStoreReferenceError) {
        guard text.hasPrefix(Self.scheme) else { return nil }
        let parts = text.dropFirst(Self.scheme.count).split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2 else { throw ObjectStoreReferenceError(text: text) }
        store = parts[0]
        bucket = parts[1]
        prefix = parts.dropFirst(2).joined(separator: "/")
    }

    /// The front end that serves the store, in `zone` when it has one there (so a zone's
    /// database does not depend on another zone's front end), else its first one: its
    /// `http://HOST:PORT` and the region it signs for. Nil when no `s3` service serves the store.
    public func frontEnd(in topology: Topology, zone: String?) -> (endpoint: String, region: String)? {
        let candidates = topology.services.filter { if case .s3(let gateway) = $0.kind { gateway.store == store } else { false } }
            .flatMap { service in service.nodes.compactMap { topology.node(named: $0) }.map { (node: $0, port: service.port) } }
        guard let chosen = candidates.first(where: { $0.node.zone == zone }) ?? candidates.first else { return nil }
        let region = topology.regions.first { $0.zones.contains(chosen.node.zone) }?.name ?? "us-east-1"
        return ("http://\(IPAddressText.hostPort(chosen.node.address, chosen.port))", region)
    }

    /// The `s3:` location of this bucket and prefix at `endpoint`.
    public func location(at endpoint: String) -> String {
        "s3:\(endpoint)/\(bucket)\(prefix.isEmpty ? "" : "/\(prefix)")"
    }
}

/// A `store:` reference without a store and a bucket.
public struct ObjectStoreReferenceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let text: String
    public var description: String { "\(text) needs a store and a bucket: store:NAME/BUCKET[/PREFIX]" }
}
