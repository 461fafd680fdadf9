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
        let token = try dns.topologyOptions.adminToken(stateDirectory: topology.defaultStateDirectory)
        try await InstanceStatus<DNSStatus>(topology: topology, service: service, path: "/status").print(json: json, token: token) {
            DNSStatusTable(reports: $0).render()
        }
    }
}
