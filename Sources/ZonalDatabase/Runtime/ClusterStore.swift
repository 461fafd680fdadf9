import Foundation
import ZonalCoordination
import ZonalCore

/// A database cluster's keys in the coordinator, read and written the way the HA rules need.
///
/// Under `/zonal/db/<service>/`: `leader` (the primary's name, on its lease), `members/<node>`
/// (each agent's ``MemberStatus``, on its lease), `initialize` (who bootstrapped), `position`
/// (the primary's last ``LeaderPosition``), `sync` (the published ``SynchronousSet``),
/// `switchover` (a pending ``SwitchoverRequest``) and `events/` (failovers and switchovers).
public struct ClusterStore: Sendable {
    public let coordinator: any Coordinator
    public let prefix: String

    public init(coordinator: any Coordinator, service: String) {
        self.coordinator = coordinator
        self.prefix = "/zonal/db/\(service)/"
    }

    var leaderKey: String { prefix + "leader" }
    var initializeKey: String { prefix + "initialize" }
    var positionKey: String { prefix + "position" }
    var synchronousKey: String { prefix + "sync" }
    var switchoverKey: String { prefix + "switchover" }
    var membersPrefix: String { prefix + "members/" }
    var eventsPrefix: String { prefix + "events/" }

    /// The whole cluster in one read.
    public func read() async throws -> ClusterReading {
        let result = try await coordinator.range(prefix: prefix)
        var view = DatabaseHA.ClusterView(leader: nil, initialized: false, members: [])
        var leaderLease: LeaseID?
        var unreadable: [String] = []
        let decoder = JSONDecoder.zonal()
        /// A value anyone with the token could have written: what does not decode is ignored and named.
        func decode<Value: Decodable>(_: Value.Type, _ entry: KeyValue) -> Value? {
            guard let value = try? decoder.decode(Value.self, from: Data(entry.value)) else {
                unreadable.append(entry.key)
                return nil
            }
            return value
        }
        for entry in result.keyValues {
            switch entry.key {
            case leaderKey:
                view.leader = entry.string
                leaderLease = entry.lease
            case initializeKey: view.initialized = true
            case positionKey: view.leaderPosition = decode(LeaderPosition.self, entry)
            case synchronousKey: view.synchronous = decode(SynchronousSet.self, entry) ?? .empty
            case switchoverKey: view.switchover = decode(SwitchoverRequest.self, entry)
            default:
                if entry.key.hasPrefix(membersPrefix), let member = decode(MemberStatus.self, entry) {
                    view.members.append(member)
                }
            }
        }
        return ClusterReading(view: view, leaderLease: leaderLease, revision: result.revision, unreadable: unreadable)
    }

    /// One read of the cluster.
    public struct ClusterReading: Sendable {
        public var view: DatabaseHA.ClusterView
        /// The lease the leader key hangs on.
        public var leaderLease: LeaseID?
        public var revision: Int64
        /// Keys whose values did not decode and were ignored.
        public var unreadable: [String] = []
    }

    public func publish(_ member: MemberStatus, lease: LeaseID) async throws {
        try await coordinator.put(membersPrefix + member.name, value: try encode(member), lease: lease)
    }

    /// Creates the leader and initialize keys together: true for the one node that may run initdb.
    public func claimBootstrap(node: String, lease: LeaseID) async throws -> Bool {
        try await coordinator.transaction(
            Transaction(
                compares: [.absent(initializeKey), .absent(leaderKey)],
                success: [.put(key: initializeKey, value: Array(node.utf8), lease: nil), .put(key: leaderKey, value: Array(node.utf8), lease: lease)]
            )
        ).succeeded
    }

    var leader: LeaderKey { LeaderKey(coordinator: coordinator, key: leaderKey) }

    /// Takes the leader key if nobody holds it, marking the cluster initialized with it.
    public func acquireLeadership(node: String, lease: LeaseID) async throws -> Bool {
        try await leader.acquire(node: node, lease: lease, alongside: [.put(key: initializeKey, value: Array(node.utf8), lease: nil)])
    }

    /// Moves the leader key of `node` onto `lease` (see ``LeaderKey/rebind(node:lease:)``).
    public func rebindLeadership(node: String, lease: LeaseID) async throws -> Bool {
        try await leader.rebind(node: node, lease: lease)
    }

    /// Deletes the leader key if `node` holds it.
    public func releaseLeadership(node: String) async throws {
        try await leader.release(node: node)
    }

    /// Writes `value` at `key` only while `node` holds the leader key.
    func putAsLeader(node: String, key: String, value: [UInt8]) async throws -> Bool {
        try await leader.put(key, value: value, whileHeldBy: node)
    }

    public func publishPosition(_ position: LeaderPosition) async throws {
        _ = try await putAsLeader(node: position.name, key: positionKey, value: try encode(position))
    }

    /// Publishes the synchronous set; only the leader may.
    public func publishSynchronous(_ set: SynchronousSet, leader: String) async throws -> Bool {
        try await putAsLeader(node: leader, key: synchronousKey, value: try encode(set))
    }

    public func requestSwitchover(_ request: SwitchoverRequest, lease: LeaseID) async throws {
        try await coordinator.put(switchoverKey, value: try encode(request), lease: lease)
    }

    public func clearSwitchover() async throws {
        try await coordinator.delete(switchoverKey)
    }

    /// Records a failover or switchover; kept for `zonal db status` and drills.
    public func record(_ event: DatabaseEvent) async throws {
        let key = eventsPrefix + String(format: "%020.6f", event.at.timeIntervalSince1970)
        try await coordinator.put(key, value: try encode(event), lease: nil)
    }

    public func events() async throws -> [DatabaseEvent] {
        let decoder = JSONDecoder.zonal()
        return try await coordinator.range(prefix: eventsPrefix).keyValues.compactMap { try? decoder.decode(DatabaseEvent.self, from: Data($0.value)) }
    }

    private func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder.zonal().encode(value))
    }
}

/// A change of primary, with its cause and how long the cluster had no writable primary.
public struct DatabaseEvent: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        case failover, switchover, bootstrap
    }

    public var kind: Kind
    public var from: String?
    public var to: String
    public var cause: String
    /// From the moment the new primary's agent saw no leader to the end of its promotion.
    public var duration: Duration
    public var at: Date

    public init(kind: Kind, from: String?, to: String, cause: String, duration: Duration, at: Date = Date()) {
        self.kind = kind
        self.from = from
        self.to = to
        self.cause = cause
        self.duration = duration
        self.at = at
    }

    public var description: String {
        "\(kind.rawValue) \(from.map { "\($0) → " } ?? "")\(to) in \(duration.zonalDescription): \(cause)"
    }
}
