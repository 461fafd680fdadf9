import Crypto

/// Which storage nodes hold an object: `replicas` nodes in as many different zones as there are,
/// chosen by rendezvous hashing of the bucket and key, so every front end picks the same nodes
/// without asking anyone and adding a node moves only the objects it now wins.
public struct ReplicaPlacement: Sendable, Hashable {
    public struct StorageNode: Sendable, Hashable {
        public var name: String
        public var zone: String

        public init(name: String, zone: String) {
            self.name = name
            self.zone = zone
        }
    }

    public let nodes: [StorageNode]
    public let replicas: Int

    public init(nodes: [StorageNode], replicas: Int) {
        self.nodes = nodes
        self.replicas = min(replicas, nodes.count)
    }

    /// The object's replica nodes, best first: distinct zones before a second node of a zone.
    public func replicaNodes(bucket: String, key: String) -> [StorageNode] {
        let ranked = nodes.map { node in (node, Self.score(node.name, bucket, key)) }.sorted { $0.1 > $1.1 }.map(\.0)
        var chosen: [StorageNode] = []
        var zones: Set<String> = []
        for node in ranked where chosen.count < replicas && zones.insert(node.zone).inserted { chosen.append(node) }
        for node in ranked where chosen.count < replicas && !chosen.contains(node) { chosen.append(node) }
        return chosen
    }

    /// `replicaNodes` in the order a front end in `zone` reads them: its own zone first.
    public func readOrder(bucket: String, key: String, from zone: String) -> [StorageNode] {
        let nodes = replicaNodes(bucket: bucket, key: key)
        return nodes.filter { $0.zone == zone } + nodes.filter { $0.zone != zone }
    }

    private static func score(_ node: String, _ bucket: String, _ key: String) -> UInt64 {
        let digest = SHA256.hash(data: Array("\(node)\u{0}\(bucket)\u{0}\(key)".utf8))
        return digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}

/// The write rule: a version is acknowledged once `quorum` replicas have it durably, and has
/// failed once so many replicas failed that the quorum can no longer be reached. Reads and
/// listings ask `replicas - quorum + 1` nodes, so they always meet one that has every
/// acknowledged write.
public struct WriteQuorum: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case pending
        case acknowledged
        case failed
    }

    public let replicas: Int
    public let quorum: Int
    public private(set) var durable = 0
    public private(set) var failed = 0

    public init(replicas: Int, quorum: Int) {
        self.replicas = replicas
        self.quorum = quorum
    }

    /// Replies a read must gather to see every acknowledged write.
    public var readQuorum: Int { replicas - quorum + 1 }

    public mutating func record(durable isDurable: Bool) {
        if isDurable { durable += 1 } else { failed += 1 }
    }

    public var outcome: Outcome {
        if durable >= quorum { return .acknowledged }
        if replicas - failed < quorum { return .failed }
        return .pending
    }
}
