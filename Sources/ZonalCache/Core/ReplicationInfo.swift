/// The `replication` section of Redis's `INFO`, as the agent reads it each cycle.
public struct ReplicationInfo: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable {
        case master
        case replica = "slave"
    }

    public var role: Role
    /// `master_repl_offset`: how much of the replication stream this server holds.
    public var offset: Int64
    /// `master_replid`: the history the offset belongs to.
    public var replicationID: String
    /// `master_replid2` and `second_repl_offset`: the history this server continued after a
    /// promotion, and the first offset that is its own (Redis's PSYNC2).
    public var previousReplicationID: String?
    public var secondOffset: Int64?
    /// On a replica: whom it replicates from and whether the link is up.
    public var masterHost: String?
    public var masterPort: Int?
    public var linkUp: Bool
    public var lastIOSeconds: Int?
    /// On a master: replicas connected, by address, with their acknowledged offsets.
    public var replicas: [ConnectedReplica]

    public struct ConnectedReplica: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var offset: Int64
        public var lagSeconds: Int
    }

    /// Reads the text of `INFO replication`; nil when it names no role.
    public init?(_ text: String) {
        var fields: [Substring: Substring] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...]
        }
        guard let role = fields["role"].flatMap({ Role(rawValue: String($0)) }) else { return nil }
        self.role = role
        offset = fields["master_repl_offset"].flatMap { Int64($0) } ?? 0
        replicationID = fields["master_replid"].map(String.init) ?? ""
        previousReplicationID = fields["master_replid2"].map(String.init).flatMap { $0.allSatisfy { $0 == "0" } ? nil : $0 }
        secondOffset = fields["second_repl_offset"].flatMap { Int64($0) }.flatMap { $0 < 0 ? nil : $0 }
        masterHost = fields["master_host"].map(String.init)
        masterPort = fields["master_port"].flatMap { Int($0) }
        linkUp = fields["master_link_status"] == "up"
        lastIOSeconds = fields["master_last_io_seconds_ago"].flatMap { Int($0) }.flatMap { $0 < 0 ? nil : $0 }
        replicas = fields.filter { $0.key.hasPrefix("slave") && $0.key.dropFirst(5).allSatisfy(\.isNumber) }.sorted { $0.key < $1.key }.compactMap {
            Self.replica($0.value)
        }
    }

    /// `ip=127.0.0.1,port=6380,state=online,offset=123,lag=0`.
    private static func replica(_ text: Substring) -> ConnectedReplica? {
        var values: [Substring: Substring] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let host = values["ip"], let port = values["port"].flatMap({ Int($0) }) else { return nil }
        return ConnectedReplica(
            host: String(host), port: port, offset: values["offset"].flatMap { Int64($0) } ?? 0, lagSeconds: values["lag"].flatMap { Int($0) } ?? 0)
    }

    /// Bytes this server, an old master, wrote past the point where `successor` took over its
    /// history: Redis discards them when this server resynchronises. Nil when unknown.
    public func divergence(from successor: ReplicationInfo) -> Int64? {
        guard successor.previousReplicationID == replicationID, let takeover = successor.secondOffset else { return nil }
        return max(0, offset - (takeover - 1))
    }
}
