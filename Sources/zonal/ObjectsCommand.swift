import ArgumentParser
import ZonalCore

struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract: "Zone-redundant S3-compatible object storage: storage nodes, S3 front ends, credentials, buckets, access keys, scrubbing.",
        subcommands: [
            ObjectsNodeCommand.self, ObjectsS3Command.self, ObjectsCredentialsCommand.self, ObjectsBucketsCommand.self, ObjectsKeysCommand.self,
            ObjectsScrubCommand.self,
        ]
    )
}

/// Which object-store or s3 service of the topology a command is about.
struct ObjectsServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The service (default: the topology's only one of the command's kind).") var service: String?
    @Option(help: "The state directory: the nodes' data and the store's credentials (default: the topology's state_dir, or .zonal/NAME).")
    var stateDir: String?

    func stateDirectory(_ topology: Topology) -> String {
        stateDir ?? topology.defaultStateDirectory
    }

    func resolve(kind: String) throws -> (topology: Topology, service: Topology.Service) {
        try topologyOptions.service(named: service, kind: kind)
    }
}
