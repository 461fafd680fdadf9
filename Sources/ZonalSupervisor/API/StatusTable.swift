import Foundation
import ZonalCore

/// Renders a ``StatusReport`` as the table `zonal status` prints.
public struct StatusTable: Sendable {
    public var colored: Bool

    public init(colored: Bool) {
        self.colored = colored
    }

    /// Whether standard output is a terminal that wants colour (honours `NO_COLOR` and `TERM=dumb`).
    public static var terminalWantsColor: Bool {
        let environment = ProcessInfo.processInfo.environment
        return isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }

    public func render(_ report: StatusReport) -> String {
        let header = ["REGION", "ZONE", "NODE", "SERVICE", "ROLE", "HEALTH", "PROCESS", "ADDRESS"]
        let rows = report.instances.map { instance in
            [
                instance.region, instance.zone, instance.node, instance.service, instance.role, instance.health,
                instance.process + (instance.pid.map { " (pid \($0))" } ?? ""), instance.address,
            ]
        }
        let healthy = report.instances.filter(\.isHealthy).count
        let title = "topology \(report.topology): \(healthy)/\(report.instances.count) healthy, control \(report.control)"
        let coordinator =
            "coordinator: " + paint(report.coordinator.description, for: report.coordinator.healthy ? "healthy" : "unhealthy")
            + " at " + report.coordinator.endpoints.joined(separator: ", ")
        let table = TextTable(header: header, rows: rows).lines { column, cell, padded in column == 5 ? paint(padded, for: cell) : padded }
        return ([title, coordinator] + table).joined(separator: "\n")
    }

    private func paint(_ text: String, for health: String) -> String {
        guard colored else { return text }
        let code =
            switch health {
            case "healthy": "32"
            case "unhealthy": "31"
            default: "33"
            }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
