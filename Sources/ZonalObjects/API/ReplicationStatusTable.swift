import Foundation
import ZonalCore

/// `zonal objects replication status` as text: per rule of the front end that replicates, how
/// much is pending and how old the oldest of it is (the rule's RPO now), what went and how
/// fast, and the last error.
public struct ReplicationStatusTable: Sendable {
    public var reports: [ReplicationStatus]

    public init(reports: [ReplicationStatus]) {
        self.reports = reports
    }

    public func render() -> String {
        guard let active = reports.first(where: \.active) else {
            return "no front end replicates right now (none holds the replicator lease; answered: \(reports.map(\.node).joined(separator: ", ")))"
        }
        let rows = active.rules.map { rule -> [String] in
            [
                rule.name, "\(rule.bucket)/\(rule.prefix)", rule.destination, String(rule.pendingObjects), ByteText.format(rule.pendingBytes),
                rule.oldestPendingSeconds.map { Duration.milliseconds(Int64(min(max($0, 0), 1e12) * 1000)).zonalDescription } ?? "-",
                String(rule.replicatedObjects),
                ByteText.format(rule.replicatedBytes), "\(ByteText.format(Int64(rule.bytesPerSecond)))/s", "\(rule.nodesAnswering)/\(rule.nodes)",
            ]
        }
        var lines = ["replicator: \(active.node)"]
        lines += TextTable(
            header: ["RULE", "SOURCE", "DESTINATION", "PENDING", "BYTES", "OLDEST", "SENT", "SENT BYTES", "RATE", "FEEDS"], rows: rows
        ).lines()
        if active.rules.isEmpty { lines.append("no replication rules (add one with `zonal objects replication set`)") }
        for rule in active.rules {
            if let error = rule.lastError, let at = rule.lastErrorAt {
                lines.append("\(rule.name): last error at \(ISO8601DateFormatter().string(from: at)): \(error)")
            }
            if rule.refusedTotal > 0 {
                lines.append("\(rule.name): \(rule.refusedTotal) versions refused by the destination and skipped, latest:")
                for refusal in rule.refused.suffix(5) { lines.append("  \(refusal.key) \(refusal.versionID): \(refusal.error)") }
            }
        }
        return lines.joined(separator: "\n")
    }
}
