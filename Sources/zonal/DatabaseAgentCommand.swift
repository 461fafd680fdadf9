import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalDatabase
import ZonalObservability
import ZonalProcess

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
        let plan = try DatabaseNodePlan.reachable(
            topology: topology, service: service.name, node: node,
            stateDirectory: database.stateDirectory(topology), logger: logger)
        let coordinator = try database.topologyOptions.coordinatorClient(topology, endpoints: self.coordinator, requestTimeout: .seconds(1))
        let agent = try DatabaseAgent(plan: plan, coordinator: coordinator, logger: logger)
        print(
            "agent of \(plan.me.name) for \(service.name): PostgreSQL on \(plan.me.postgresAddress), API on \(plan.me.apiAddress), data in \(plan.dataDirectory)"
        )
        print(
            "connect as postgres with the password in \(plan.passwordFile): PGPASSFILE=\(ClusterPassword.clientPassfile(besides: plan.passwordFile)) psql -h \(plan.me.host) -p \(plan.me.port) -U postgres"
        )
        let api = DatabaseAgentAPI(agent: agent, tokens: .fromEnvironment()).application(
            host: plan.me.host, port: plan.me.apiPort,
            limits: topology.supervisor.api, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent, api], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
