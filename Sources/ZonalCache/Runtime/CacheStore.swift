import Foundation
import ZonalCoordination
import ZonalCore

/// A cache service's keys in the coordinator, read and written the way the HA rules need.
///
/// Under `/zonal/cache/<service>/`: `leader` (the master's name, on its agent's lease),
/// `members/<node>` (each agent's ``CacheMember``, on its lease) and `events/` (failovers,
/// bootstraps and rejoins). Roles for proxies and balancers go to `/zonal/roles/<service>/`.
public struct CacheStore: Sendable {
    public let coordinator: any Coordinator
    public let prefix: String

    public init(coordinator: any Coordinator, service: String) {
        self.coordinator = coordinator
        self.prefix = "/zonal/cache/\(service)/"
    }

    var leaderKey: String { prefix + "leader" }
    var membersPrefix: String { prefix + "members/" }
    var eventsPrefix: String { prefix + "events/" }

    /// One read of the service's live state.
    public struct Reading: Sendable {
        public var view: CacheHA.ClusterView
        /// The lease the leader key hangs on.
        public var leaderLease: LeaseID?
        /// Keys whose values did not decode and were ignored (anyone with the token can write them).
        public var unreadable: [String]
    }

    public func read() async throws -> Reading {
        let result = try await coordinator.range(prefix: prefix)
        var view = CacheHA.ClusterView(leader: nil, members: [])
        var leaderLease: LeaseID?
        var unreadable: [String] = []
        let decoder = JSONDecoder.zonal()
        for entry in result.keyValues {
            if entry.key == leaderKey {
                view.leader = entry.string
                leaderLease = entry.lease
            } else if entry.key.hasPrefix(membersPrefix) {
                guard let member = try? decoder.decode(CacheMember.self, from: Data(entry.value)) else {
                    unreadable.append(entry.key)
                    continue
                }
                view.members.append(member)
            }
        }
        return Reading(view: view, leaderLease: leaderLease, unreadable: unreadable)
    }

    public func publish(_ member: CacheMember, lease: LeaseID) async throws {
        try await coordinator.put(membersPrefix + member.name, value: Array(try JSONEncoder.zonal().encode(member)), lease: lease)
    }

    /// The leader key, held by the master's agent on its lease.
    public var leader: LeaderKey { LeaderKey(coordinator: coordinator, key: leaderKey) }

    /// Records a failover, bootstrap or rejoin; kept for `zonal cache status` and drills.
    public func record(_ event: CacheEvent) async throws {
        let key = eventsPrefix + String(format: "%020.6f", event.at.timeIntervalSince1970)
        try await coordinator.put(key, value: Array(try JSONEncoder.zonal().encode(event)), lease: nil)
    }

    public func events() async throws -> [CacheEvent] {
        let decoder = JSONDecoder.zonal()
        return try await coordinator.range(prefix: eventsPrefix).keyValues.compactMap { try? decoder.decode(CacheEvent.self, from: Data($0.value)) }
    }

}
