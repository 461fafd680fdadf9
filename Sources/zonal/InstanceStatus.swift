import ZonalCore
import ZonalObservability

/// The status reports of every instance of a service, each asked on its admin port with the
/// admin token, printed as JSON or as the service's table, with the instances that did not
/// answer named below; fails only when none answered.
struct InstanceStatus<Report: Decodable & Encodable & Sendable> {
    let topology: Topology
    let service: Topology.Service
    let path: String

    func print(json: Bool, token: AdminToken?, table: ([Report]) -> String) async throws {
        guard let adminPort = service.adminPort else { throw CommandFailure("service \(service.name) has no admin_port to ask") }
        var reports: [Report] = []
        var problems: [String] = []
        for instance in topology.instances where instance.service.name == service.name {
            do {
                reports.append(try await AdminAPIClient(host: instance.node.address, port: adminPort, token: token).send("GET", path))
            } catch {
                problems.append("\(instance.id): \(error)")
            }
        }
        if json {
            try printJSON(reports)
        } else {
            Swift.print(table(reports))
        }
        for problem in problems { Swift.print("unreachable: \(problem)") }
        if reports.isEmpty { throw CommandFailure("no instance of \(service.name) answered") }
    }
}
