import ArgumentParser
import ZonalCache
import ZonalCore

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Highly available Redis: node agents, the RESP proxy, status.",
        subcommands: [CacheAgentCommand.self, CacheProxyCommand.self, CacheStatusCommand.self]
    )
}

/// Which cache service of the topology a command is about.
struct CacheServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The service (default: the topology's only one of the command's kind).") var service: String?
    @Option(help: "The state directory the agents run in: data directories and the password (default: the topology's state_dir, or .zonal/NAME).")
    var stateDir: String?

    func stateDirectory(_ topology: Topology) -> String {
        stateDir ?? topology.defaultStateDirectory
    }

    func resolve(kind: String = "redis") throws -> (topology: Topology, service: Topology.Service) {
        try topologyOptions.service(named: service, kind: kind)
    }
}
