import Foundation

/// Which rows of a bucket's change feed a replication rule takes: keys under `prefix`, versions
/// written at or after `since` (a version id: they start with their time), and delete markers
/// and purges only when the rule replicates deletes. The storage node applies it to its feed;
/// ``matches(_:)`` is the same rule for one version.
public struct ChangeFilter: Sendable, Hashable, Codable {
    public var prefix: String
    /// The smallest version id taken; nil for every version (a rule that copies existing objects).
    public var since: String?
    public var deletes: Bool

    public init(prefix: String = "", since: String? = nil, deletes: Bool = false) {
        self.prefix = prefix
        self.since = since
        self.deletes = deletes
    }

    public func matches(_ version: ObjectVersion) -> Bool {
        guard version.key.hasPrefix(prefix) else { return false }
        if let since, version.versionID < since { return false }
        return deletes || (!version.isDeleteMarker && version.isPurged != true)
    }
}

/// One read of a storage node's change feed.
public struct ChangePage: Sendable, Codable {
    public struct Change: Sendable, Codable {
        public var seq: Int64
        public var version: ObjectVersion
    }

    public var changes: [Change]
    /// Where the next read starts: every row up to here was examined.
    public var through: Int64
}

/// How much of a storage node's change feed is still to be replicated by a rule.
public struct Backlog: Sendable, Codable, Hashable {
    public var objects: Int
    public var bytes: Int64
    /// The oldest version id among them: its time is how far the target is behind.
    public var oldestVersionID: String?

    public init(objects: Int = 0, bytes: Int64 = 0, oldestVersionID: String? = nil) {
        self.objects = objects
        self.bytes = bytes
        self.oldestVersionID = oldestVersionID
    }

    /// The store's backlog from its nodes' (each version is on `replicas` of them, so a plain
    /// sum counts it that often): the larger of the biggest node's and the sum shared out, the
    /// oldest the oldest of all. Exact while every version has all its replicas; with a node
    /// away, at least what the others hold.
    public static func combined(_ nodes: [Backlog], replicas: Int) -> Backlog {
        let share = max(1, replicas)
        let objects = max(nodes.map(\.objects).max() ?? 0, (nodes.reduce(0) { $0 + $1.objects } + share - 1) / share)
        let bytes = max(nodes.map(\.bytes).max() ?? 0, (nodes.reduce(Int64(0)) { $0 + $1.bytes } + Int64(share) - 1) / Int64(share))
        return Backlog(objects: objects, bytes: bytes, oldestVersionID: nodes.compactMap(\.oldestVersionID).min())
    }
}
