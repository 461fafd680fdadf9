import Foundation
import ZonalCore

/// `zonal objects scrub status` as text: per storage node its rate, the pass under way and the
/// last finished one, with what each found and healed.
public struct ScrubStatusTable: Sendable {
    public var reports: [ScrubStatus]

    public init(reports: [ScrubStatus]) {
        self.reports = reports
    }

    public func render() -> String {
        let rows = reports.flatMap { report -> [[String]] in
            let rate = report.rate == 0 ? "off" : "\(ByteText.format(Int64(report.rate)))/s"
            let passes: [(String, String, ScrubStatus.Findings)] =
                [
                    report.current.map { ("running", Self.time($0.started), $0.findings) },
                    report.last.map { ("last", Self.time($0.finished ?? $0.started), $0.findings) },
                ]
                .compactMap { $0 } + [("all \(report.passes)", "", report.total)]
            return passes.enumerated().map { index, pass in
                let (label, since, found) = pass
                return [
                    index == 0 ? report.node : "", index == 0 ? rate : "", label, since, String(found.versions), ByteText.format(found.bytes),
                    String(found.corrupt), String(found.missing), String(found.healed), String(found.failed), String(found.unreachable),
                ]
            }
        }
        var lines = TextTable(
            header: ["NODE", "RATE", "PASSES", "SINCE", "VERSIONS", "BYTES", "CORRUPT", "MISSING", "HEALED", "FAILED", "UNREACHABLE"], rows: rows
        ).lines()
        for report in reports {
            for pass in [report.current, report.last].compactMap({ $0 }) {
                if let error = pass.lastError { lines.append("\(report.node): last error: \(error)") }
            }
            if report.total.orphanParts > 0 { lines.append("\(report.node): \(report.total.orphanParts) parts of uploads no other node has (left alone)") }
        }
        return lines.joined(separator: "\n")
    }

    private static func time(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
