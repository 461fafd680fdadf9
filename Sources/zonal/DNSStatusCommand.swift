import ArgumentParser
import ZonalCore
import ZonalDNS
import ZonalObservability

struct DNSStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every health-checked record of a DNS service: its pools, each address's health, the answer now and why."
    )

    @OptionGroup var dns: DNSServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (topology, service) = try dns.resolve()
        guard let adminPort = service.adminPort else { throw CommandFailure("service \(service.name) has no admin_port to ask") }
        let token = try dns.topologyOptions.adminToken(stateDirectory: topology.defaultStateDirectory)
        var reports: [DNSStatus] = []
        var problems: [String] = []
        for instance in topology.instances where instance.service.name == service.name {
            do {
                reports.append(try await AdminAPIClient(host: instance.node.address, port: adminPort, token: token).send("GET", "/status"))
            } catch {
                problems.append("\(instance.id): \(error)")
            }
        }
        if json {
            try printJSON(reports)
        } else {
            print(DNSStatusTable(reports: reports).render())
        }
        for problem in problems { print("unreachable: \(problem)") }
        if reports.isEmpty { throw CommandFailure("no instance of \(service.name) answered") }
    }
}
