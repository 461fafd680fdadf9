import ArgumentParser
import ZonalCoordination
import ZonalCore

struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract:
            "Zone-redundant S3-compatible object storage: storage nodes, S3 front ends, credentials, buckets, access keys, scrubbing, cross-region replication.",
        subcommands: [
            ObjectsNodeCommand.self, ObjectsS3Command.self, ObjectsCredentialsCommand.self, ObjectsBucketsCommand.self, ObjectsKeysCommand.self,
            ObjectsScrubCommand.self, ObjectsReplicationCommand.self,
        ]
    )
}

/// Which object-store or s3 service of the topology a command is about.
struct ObjectsServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The service (default: the topology's first one of the command's kind, e.g. the store of the first region).") var service: String?
    @Option(help: "The state directory: the nodes' data and the store's credentials (default: the topology's state_dir, or .zonal/NAME).")
    var stateDir: String?

    func stateDirectory(_ topology: Topology) -> String {
        stateDir ?? topology.defaultStateDirectory
    }

    func resolve(kind: String) throws -> (topology: Topology, service: Topology.Service) {
        if service == nil, let topology = try? topologyOptions.load(), let first = topology.services.first(where: { $0.kind.name == kind }) {
            return (topology, first)
        }
        return try topologyOptions.service(named: service, kind: kind)
    }

    /// A client of the coordinator with the admin token of this command's state directory.
    func coordinator(_ topology: Topology) throws -> EtcdCoordinator {
        try topologyOptions.coordinatorClient(topology, stateDirectory: stateDirectory(topology))
    }

    /// The store's first `s3` service: the front ends that serve it and run its replicator.
    func frontEnds(of store: Topology.Service, in topology: Topology) throws -> Topology.Service {
        let found = topology.services.first { service in
            if case .s3(let spec) = service.kind { return spec.store == store.name }
            return false
        }
        guard let found else { throw CommandFailure("no s3 service of the topology fronts the store \(store.name)") }
        return found
    }
}
