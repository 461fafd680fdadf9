/// A lease: keys attached to it are deleted when it expires or is revoked.
public struct LeaseID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue, radix: 16) }
}

/// One key with its value and revisions, as etcd reports it.
public struct KeyValue: Hashable, Sendable, Codable {
    public var key: String
    public var value: [UInt8]
    /// Revision of the put that created the key (since its last deletion).
    public var createRevision: Int64
    /// Revision of the last put to the key.
    public var modRevision: Int64
    /// Number of puts since the key was created.
    public var version: Int64
    /// The lease the key is attached to, if any.
    public var lease: LeaseID?

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: LeaseID?) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The value read as UTF-8 text.
    public var string: String { String(decoding: value, as: UTF8.self) }
}

/// A read of several keys, at one revision of the store.
public struct RangeResult: Hashable, Sendable {
    public var keyValues: [KeyValue]
    /// The store's revision when the read was made.
    public var revision: Int64

    public init(keyValues: [KeyValue], revision: Int64) {
        self.keyValues = keyValues
        self.revision = revision
    }
}

/// A granted lease and the TTL the coordinator gave it.
public struct Lease: Hashable, Sendable {
    public var id: LeaseID
    public var ttl: Duration

    public init(id: LeaseID, ttl: Duration) {
        self.id = id
        self.ttl = ttl
    }
}

/// A change seen by a watch.
public struct WatchEvent: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case put, delete
    }

    public var kind: Kind
    /// After a put, the new key-value; after a delete, the key with `modRevision` set to the
    /// deletion's revision and an empty value.
    public var keyValue: KeyValue

    public init(kind: Kind, keyValue: KeyValue) {
        self.kind = kind
        self.keyValue = keyValue
    }

    /// The revision at which the change happened.
    public var revision: Int64 { keyValue.modRevision }

    public var description: String {
        "\(kind) \(keyValue.key) at revision \(revision)"
    }
}

/// The health of a coordinator endpoint, for `zonal status`.
public struct CoordinatorStatus: Hashable, Sendable, Codable {
    /// Which backend answered: `embedded` or `etcd`.
    public var backend: String
    public var endpoint: String
    public var version: String
    /// The member that leads the consensus group (etcd), or the embedded server itself.
    public var leader: String
    public var revision: Int64

    public init(backend: String, endpoint: String, version: String, leader: String, revision: Int64) {
        self.backend = backend
        self.endpoint = endpoint
        self.version = version
        self.leader = leader
        self.revision = revision
    }
}
