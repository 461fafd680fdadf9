import Foundation
import ZonalCore

/// What `zonal db status --json` prints: the cluster as the coordinator holds it.
public struct DatabaseStatusReport: Encodable, Sendable {
    public var service: String
    public var leader: String?
    public var members: [MemberStatus]
    public var synchronous: SynchronousSet
    public var events: [DatabaseEvent]

    public init(service: String, view: DatabaseHA.ClusterView, events: [DatabaseEvent]) {
        self.service = service
        self.leader = view.leader
        self.members = view.members
        self.synchronous = view.synchronous
        self.events = events
    }
}

/// The table `zonal db status` prints: every node of the service with its role, timeline, WAL
/// position, lag and synchronous state, then the latest changes of primary.
public struct DatabaseStatusTable: Sendable {
    public var service: Topology.Service
    public var view: DatabaseHA.ClusterView
    public var events: [DatabaseEvent]

    public init(service: Topology.Service, view: DatabaseHA.ClusterView, events: [DatabaseEvent]) {
        self.service = service
        self.view = view
        self.events = events
    }

    public func render() -> String {
        let leaderLSN = view.leaderPosition?.position.lsn
        let rows = service.nodes.map { name -> [String] in
            guard let member = view.members.first(where: { $0.name == name }) else { return [name, "(no agent)"] }
            let lag = member.role == .standby ? leaderLSN.map { String($0.bytes(after: member.position?.lsn ?? .zero)) } ?? "?" : "-"
            let seconds = member.replayLagSeconds.map { String(format: "%.1f", $0) } ?? "-"
            let sync = view.synchronous.members.contains(name) ? "sync" : (member.role == .standby ? "async" : "-")
            return [
                name, member.zone, member.role.rawValue, member.position.map { "\($0.timeline)" } ?? "-",
                member.position.map { "\($0.lsn)" } ?? "-", lag, seconds, member.upstream ?? "-", sync,
            ]
        }
        var lines = ["\(service.name): leader \(view.leader ?? "none"); synchronous standbys \(view.synchronous)"]
        lines += TextTable(header: ["NODE", "ZONE", "ROLE", "TIMELINE", "WAL", "LAG BYTES", "LAG S", "UPSTREAM", "SYNC"], rows: rows).lines()
        if !events.isEmpty {
            lines.append("recent changes of primary:")
            let formatter = ISO8601DateFormatter()
            for event in events.suffix(5) { lines.append("  \(formatter.string(from: event.at)) \(event)") }
        }
        return lines.joined(separator: "\n")
    }
}
