import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalDatabase
import ZonalObservability
import ZonalProcess
import ZonalSupervisor

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Highly available PostgreSQL: node agents, status, switchover.",
        subcommands: [DatabaseAgentCommand.self, DatabaseStatusCommand.self, DatabaseSwitchoverCommand.self, DatabaseBackupCommand.self, DatabaseRestoreCommand.self,
                      DatabaseGuardCommand.self, ArchiveWALCommand.self, RestoreWALCommand.self]
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
        let topology = try topologyOptions.load()
        let databases = topology.services.filter { if case .postgres = $0.kind { true } else { false } }
        if let service {
            guard let found = databases.first(where: { $0.name == service }) else {
                throw CommandFailure("the topology has no service of kind postgres named \(service); it has: \(databases.map(\.name).joined(separator: ", "))")
            }
            return (topology, found)
        }
        guard databases.count == 1, let only = databases.first else {
            throw CommandFailure(databases.isEmpty ? "the topology has no service of kind postgres" : "name one with --service: \(databases.map(\.name).joined(separator: ", "))")
        }
        return (topology, only)
    }

    /// The service's backup settings, with `{service}` replaced; fails when it has none.
    func backup() throws -> (DatabaseSpec, DatabaseSpec.Backup, Topology.Service) {
        let (_, service) = try resolve()
        guard case .postgres(let spec) = service.kind, let backup = spec.backup else {
            throw CommandFailure("service \(service.name) has no `backup` section (database.backup.directory) in the topology")
        }
        return (spec, backup.resolved(service: service.name), service)
    }

    func store() throws -> (ClusterStore, Topology.Service) {
        let (topology, service) = try resolve()
        let coordinator = try topologyOptions.coordinatorClient(topology)
        return (ClusterStore(coordinator: coordinator, service: service.name), service)
    }
}

struct DatabaseAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the agent of one node: its PostgreSQL server and its part in failover.",
        discussion: "`zonal up` starts one per node of each postgres service; run it by hand on machines of your own."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The node this agent runs on.") var node: String
    @Option(help: "Coordinator endpoint to use instead of the topology's (e.g. a node-local etcd proxy); repeatable.")
    var coordinator: [String] = []

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try database.resolve()
        var logger = Logger(label: "zonal.db")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let plan = try DatabaseNodePlan.reachable(topology: topology, service: service.name, node: node,
                                                  stateDirectory: database.stateDirectory(topology), logger: logger)
        let coordinator = try database.topologyOptions.coordinatorClient(topology, endpoints: self.coordinator, requestTimeout: .seconds(1))
        let agent = try DatabaseAgent(plan: plan, coordinator: coordinator, logger: logger)
        print("agent of \(plan.me.name) for \(service.name): PostgreSQL on \(plan.me.postgresAddress), API on \(plan.me.apiAddress), data in \(plan.dataDirectory)")
        print("connect as postgres with the password in \(plan.passwordFile): PGPASSFILE=\(ClusterPassword.clientPassfile(besides: plan.passwordFile)) psql -h \(plan.me.host) -p \(plan.me.port) -U postgres")
        let api = DatabaseAgentAPI(agent: agent, tokens: .fromEnvironment()).application(host: plan.me.host, port: plan.me.apiPort,
                                                                                   limits: topology.supervisor.api, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent, api], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct DatabaseStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Role, timeline, WAL lag and synchronous state of every node, and recent failovers."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (store, service) = try database.store()
        let view = try await store.read().view
        let events = try await store.events()
        if json {
            try printJSON(DatabaseStatusReport(service: service.name, view: view, events: events))
            return
        }
        print(DatabaseStatusTable(service: service, view: view, events: events).render())
        let passwordFile = DatabaseNodePlan.passwordFile(service: service.name, stateDirectory: database.stateDirectory(try database.topologyOptions.load()))
        print("\nconnect as user postgres, password in \(passwordFile): PGPASSFILE=\(ClusterPassword.clientPassfile(besides: passwordFile)) psql -U postgres -h HOST -p PORT")
    }
}


struct DatabaseSwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Hand the primary role to another node without losing an acknowledged commit.",
        discussion: "The primary stops cleanly once the target streams from it, so the target has every commit; the target then takes the leader key and is promoted, and the old primary rejoins as a standby."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The node to become primary.") var to: String
    @Option(help: "How long to wait for the switchover, e.g. 30s.") var timeout: String = "30s"

    func run() async throws {
        let (store, service) = try database.store()
        guard let limit = Duration(configText: timeout) else { throw CommandFailure("--timeout must be a duration such as 30s, got \(timeout)") }
        let outcome = try await Switchover(store: store).run(to: to, nodes: service.nodes, service: service.name, timeout: limit)
        print("switchover: \(outcome.to) is the primary (was \(outcome.from)) after \(outcome.took.zonalDescription)")
    }
}


/// Started by an agent in front of its PostgreSQL server; see ``ServerGuard``.
struct DatabaseGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run a PostgreSQL server that stops at once when its agent dies (started by the agent).",
        shouldDisplay: false
    )

    @Option(help: "The agent's PID.") var parent: Int32
    @Argument(parsing: .postTerminator, help: "The server's command line.") var command: [String]

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("give the server's command after --") }
        guard parent > 1 else { throw ValidationError("--parent must be the agent's PID, got \(parent)") }
        ServerGuard.run(command, parent: parent)
    }
}
