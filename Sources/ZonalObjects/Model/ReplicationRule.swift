import Foundation
import ZonalCore

/// A cross-region replication rule as the coordinator keeps it under
/// `/zonal/objects/<store>/replication/rules/<name>`: which versions of a bucket go where.
/// Rules are added, changed and removed while the store runs (`zonal objects replication`);
/// the store's replicator follows them.
public struct ReplicationRule: Sendable, Hashable, Codable {
    /// Where a rule sends versions: a bucket of another object store of the same topology
    /// (its front ends and root key are known), or of any S3 endpoint.
    public struct Destination: Sendable, Hashable, Codable, CustomStringConvertible {
        public var bucket: String
        /// An `object-store` service of the topology; version ids are kept there.
        public var store: String?
        /// Any S3 endpoint (`http(s)://host:port`), signed for `region` with `accessKeyID`.
        public var endpoint: String?
        public var region: String?
        public var accessKeyID: String?
        /// The endpoint's secret, sealed with the source store's root secret (``AccessKeySeal``).
        public var sealedSecret: String?

        public init(bucket: String, store: String) {
            self.bucket = bucket
            self.store = store
        }

        public init(bucket: String, endpoint: String, region: String, accessKeyID: String, sealedSecret: String) {
            self.bucket = bucket
            self.endpoint = endpoint
            self.region = region
            self.accessKeyID = accessKeyID
            self.sealedSecret = sealedSecret
        }

        /// Never the secret.
        public var description: String {
            if let store { return "\(store)/\(bucket)" }
            return "\(endpoint ?? "?")/\(bucket)"
        }
    }

    public var name: String
    public var bucket: String
    /// Only keys starting with this; empty for all.
    public var prefix: String
    /// Delete markers and deletes of versions go too.
    public var deletes: Bool
    /// Versions written before the rule was made go too (a backfill); otherwise only new ones.
    public var existing: Bool
    public var destination: Destination
    public var created: Date
    /// Counts the changes of what the rule selects or where it sends: each starts the rule's
    /// feed from the beginning again (versions the destination has are not sent twice).
    public var generation: Int

    public init(name: String, bucket: String, prefix: String, deletes: Bool, existing: Bool, destination: Destination, created: Date, generation: Int = 1) {
        self.name = name
        self.bucket = bucket
        self.prefix = prefix
        self.deletes = deletes
        self.existing = existing
        self.destination = destination
        self.created = created
        self.generation = generation
    }

    /// A rule of the topology: everything the bucket holds goes, existing objects included, so
    /// the rule means the same whenever the store starts.
    public init(declared spec: ObjectReplicationSpec) {
        self.init(
            name: spec.name, bucket: spec.bucket, prefix: spec.prefix, deletes: spec.deletes, existing: true,
            destination: .init(bucket: spec.toBucket ?? spec.bucket, store: spec.toStore), created: Date(timeIntervalSince1970: 0))
    }

    /// The versions the rule takes from each storage node's change feed.
    public var filter: ChangeFilter {
        ChangeFilter(prefix: prefix, since: existing ? nil : VersionID.make(at: created, random: 0), deletes: deletes)
    }

    /// `self` changed to `changed`'s settings: the same generation when neither what it selects
    /// nor where it sends changed, the next one otherwise.
    public func updated(to changed: ReplicationRule) -> ReplicationRule {
        var next = changed
        next.created = created
        let same = prefix == changed.prefix && existing == changed.existing && destination == changed.destination && bucket == changed.bucket
        next.generation = same ? generation : generation + 1
        return next
    }

    /// Rule names: what a coordinator key and a metric label can carry.
    public static func isName(_ text: String) -> Bool {
        ObjectReplicationSpec.isName(text)
    }

    /// Why the rule cannot work as written; nil when it can.
    public var problem: String? {
        guard Self.isName(name) else { return "a rule name is 1 to 64 letters, digits, '-', '_' or '.'" }
        do {
            try ObjectName.validateBucket(bucket)
            try ObjectName.validateBucket(destination.bucket)
        } catch { return "\(bucket) or \(destination.bucket) is not a bucket name" }
        guard prefix.utf8.count <= S3Limits.keyBytes else { return "the prefix is longer than a key can be" }
        switch (destination.store, destination.endpoint) {
        case (.some, nil): return nil
        case (nil, .some(let endpoint)):
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                return "the endpoint \(endpoint) is not an http(s) URL"
            }
            guard destination.region != nil, destination.accessKeyID != nil, destination.sealedSecret != nil else {
                return "an endpoint needs a region and an access key"
            }
            return nil
        default: return "a rule sends to a store of the topology or to an endpoint, one of the two"
        }
    }
}

/// Where a rule's replicator stands in each storage node's change feed, under
/// `/zonal/objects/<store>/replication/cursors/<rule>`: everything up to each number was sent.
public struct ReplicationCursor: Sendable, Hashable, Codable {
    /// The rule's generation these positions belong to; another one starts from zero.
    public var generation: Int
    public var nodes: [String: Int64]

    public init(generation: Int, nodes: [String: Int64] = [:]) {
        self.generation = generation
        self.nodes = nodes
    }
}
