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
        try topologyOptions.service(named: service, kind: "dns")
    }
}
