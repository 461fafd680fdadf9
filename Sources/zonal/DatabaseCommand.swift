import ArgumentParser
import ServiceLifecycle
import ZonalCore
import ZonalDatabase

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Highly available PostgreSQL: node agents, status, switchover.",
        subcommands: [
            DatabaseAgentCommand.self, DatabaseStatusCommand.self, DatabaseSwitchoverCommand.self, DatabaseBackupCommand.self, DatabaseRestoreCommand.self,
            ArchiveWALCommand.self, RestoreWALCommand.self,
        ]
    )
}

/// Which database service of the topology a command is about.
struct DatabaseServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The database service (default: the topology's only service of kind postgres).") var service: String?
    @Option(help: "The state directory the agents run in: data directories and the cluster password (default: the topology's state_dir, or .zonal/NAME).")
    var stateDir: String?

    /// The state directory, as `zonal up` chooses it.
    func stateDirectory(_ topology: Topology) -> String {
        stateDir ?? topology.defaultStateDirectory
    }

    /// The cluster password of the service, which the agents created.
    func password() throws -> (ClusterPassword, file: String) {
        let (topology, service) = try resolve()
        let file = DatabaseNodePlan.passwordFile(service: service.name, stateDirectory: stateDirectory(topology))
        do {
            return (try ClusterPassword.load(file: file), file)
        } catch {
            throw CommandFailure("\(error.description) (the agents of \(service.name) create it; give --state-dir if they run in another state directory)")
        }
    }

    func resolve() throws -> (topology: Topology, service: Topology.Service) {
        try topologyOptions.service(named: service, kind: "postgres")
    }

    /// Where the service's backups go, seen from zone `zone` (nil: the first front end of a
    /// store), or `copy` in their place (a replicated copy: another region's store, a directory);
    /// fails when it has no `backup` section and no copy is given.
    func backup(zone: String? = nil, copy: DatabaseSpec.Backup? = nil) throws -> (DatabaseSpec, BackupDestination, Topology.Service) {
        let (topology, service) = try resolve()
        guard case .postgres(let spec) = service.kind, let backup = copy ?? spec.backup else {
            throw CommandFailure("service \(service.name) has no `backup` section (database.backup.target) in the topology")
        }
        let destination = try BackupDestination(backup, service: service.name, topology: topology, zone: zone, stateDirectory: stateDirectory(topology))
        return (spec, destination, service)
    }

    func store() throws -> (ClusterStore, Topology.Service) {
        let (topology, service) = try resolve()
        let coordinator = try topologyOptions.coordinatorClient(topology, stateDirectory: stateDirectory(topology))
        return (ClusterStore(coordinator: coordinator, service: service.name), service)
    }
}
