import Foundation
import ZonalCore

/// `zonal dns status` as text: per instance its zones and serials, then each health-checked
/// name with its addresses (up or down) and the answer now, with the last change and its cause.
public struct DNSStatusTable: Sendable {
    public var reports: [DNSStatus]

    public init(reports: [DNSStatus]) {
        self.reports = reports
    }

    public func render() -> String {
        var lines: [String] = []
        for report in reports {
            lines.append("\(report.service)@\(report.node)")
            lines += TextTable(header: ["ZONE", "SERIAL", "RECORDS"], rows: report.zones.map { [$0.name, String($0.serial), String($0.records)] }).lines()
                .map { "  " + $0 }
            let rows = report.records.flatMap { record in
                record.pools.enumerated().map { index, pool in
                    let members = pool.members.map { "\($0.address)\($0.weight != 1 ? "*\($0.weight)" : "") \($0.healthy ? "up" : "DOWN")" }
                    return [index == 0 ? record.name : "", pool.name, members.joined(separator: ", "), index == 0 ? record.answer : ""]
                }
            }
            lines.append("")
            lines += TextTable(header: ["NAME", "POOL", "ADDRESSES", "ANSWER"], rows: rows).lines().map { "  " + $0 }
            for record in report.records {
                guard let change = record.lastChange else { continue }
                lines.append("  \(record.name) last changed \(Self.time(change.time)): \(change.cause)")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }

    private static func time(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
