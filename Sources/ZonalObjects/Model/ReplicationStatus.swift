import Foundation

/// What an S3 front end says about cross-region replication (`GET /replication` on its admin
/// port, `zonal objects replication status`): whether it is the store's replicator (one front
/// end at a time holds that lease), and per rule how far the destination is behind.
public struct ReplicationStatus: Sendable, Hashable, Codable {
    public struct Rule: Sendable, Hashable, Codable {
        public var name: String
        public var bucket: String
        public var prefix: String
        public var destination: String
        public var deletes: Bool
        public var existing: Bool
        /// Versions (and deletes) the destination does not have yet, and their bytes.
        public var pendingObjects = 0
        public var pendingBytes: Int64 = 0
        /// How long the oldest of them has waited: the rule's recovery point (RPO) right now.
        public var oldestPendingSeconds: Double?
        /// Storage nodes whose feed answered at the last look, of all.
        public var nodesAnswering = 0
        public var nodes = 0
        /// Since this front end became the replicator.
        public var replicatedObjects = 0
        public var replicatedBytes: Int64 = 0
        /// Over the last ten seconds.
        public var bytesPerSecond: Double = 0
        public var lastReplicated: Date?
        public var lastError: String?
        public var lastErrorAt: Date?
        /// Versions the destination refused for good (too large, not allowed): skipped, the
        /// latest ones kept here.
        public var refused: [Refusal] = []
        public var refusedTotal = 0

        public init(_ rule: ReplicationRule) {
            name = rule.name
            bucket = rule.bucket
            prefix = rule.prefix
            destination = rule.destination.description
            deletes = rule.deletes
            existing = rule.existing
        }
    }

    public struct Refusal: Sendable, Hashable, Codable {
        public var key: String
        public var versionID: String
        public var error: String
        public var at: Date
    }

    public var node: String
    public var active: Bool
    public var rules: [Rule]

    public init(node: String, active: Bool, rules: [Rule]) {
        self.node = node
        self.active = active
        self.rules = rules
    }
}
