import ArgumentParser
import ZonalCore

struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Authoritative failover DNS: serve an instance, show its records and answers.",
        subcommands: [DNSServeCommand.self, DNSStatusCommand.self]
    )
}

/// Which DNS service of the topology a command is about.
struct DNSServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The DNS service (default: the topology's only service of kind dns).") var service: String?

    func resolve() throws -> (topology: Topology, service: Topology.Service) {
        let topology = try topologyOptions.load()
        let services = topology.services.filter { if case .dns = $0.kind { true } else { false } }
        if let name = service {
            guard let found = services.first(where: { $0.name == name }) else {
                throw CommandFailure("the topology has no service of kind dns named \(name); it has: \(services.map(\.name).joined(separator: ", "))")
            }
            return (topology, found)
        }
        guard services.count == 1, let only = services.first else {
            throw CommandFailure(
                services.isEmpty ? "the topology has no service of kind dns" : "the topology has several DNS services; name one with --service")
        }
        return (topology, only)
    }
}
