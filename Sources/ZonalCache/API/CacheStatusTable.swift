import Foundation
import ZonalCore

/// What `zonal cache status --json` prints: the service as the coordinator holds it.
public struct CacheStatusReport: Encodable, Sendable {
    public var service: String
    public var leader: String?
    public var members: [CacheMember]
    public var events: [CacheEvent]

    public init(service: String, view: CacheHA.ClusterView, events: [CacheEvent]) {
        self.service = service
        self.leader = view.leader
        self.members = view.members
        self.events = events
    }
}

/// The table `zonal cache status` prints: every node with its role, offset and lag behind the
/// master in bytes and seconds, then the latest changes of master with cause and duration.
public struct CacheStatusTable: Sendable {
    public var service: Topology.Service
    public var view: CacheHA.ClusterView
    public var events: [CacheEvent]

    public init(service: Topology.Service, view: CacheHA.ClusterView, events: [CacheEvent]) {
        self.service = service
        self.view = view
        self.events = events
    }

    public func render() -> String {
        let masterOffset = view.members.first { $0.name == view.leader && $0.role == .master }?.offset
        let rows = service.nodes.map { name -> [String] in
            guard let member = view.members.first(where: { $0.name == name }) else { return [name, "(no agent)"] }
            let lag = member.role == .replica ? masterOffset.flatMap { master in member.offset.map { String(max(0, master - $0)) } } ?? "?" : "-"
            let link = member.role == .replica ? (member.linkUp ? "up" : "down") : "-"
            return [
                name, member.zone, member.role.rawValue, member.offset.map(String.init) ?? "-", lag, member.lastIOSeconds.map(String.init) ?? "-",
                member.upstream ?? "-", link, member.redisAddress,
            ]
        }
        var lines = ["\(service.name): master \(view.leader ?? "none")"]
        lines += TextTable(header: ["NODE", "ZONE", "ROLE", "OFFSET", "LAG BYTES", "LAG S", "UPSTREAM", "LINK", "ADDRESS"], rows: rows).lines()
        if !events.isEmpty {
            lines.append("recent changes of master:")
            let formatter = ISO8601DateFormatter()
            for event in events.suffix(5) { lines.append("  \(formatter.string(from: event.at)) \(event)") }
        }
        return lines.joined(separator: "\n")
    }
}
