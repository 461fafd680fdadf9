import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCache
import ZonalCore
import ZonalObservability
import ZonalProcess

struct CacheAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the agent of one node: its Redis server, its part in failover and Sentinel-compatible discovery.",
        discussion: "`zonal up` starts one per node of each redis service; run it by hand on machines of your own."
    )

    @OptionGroup var cache: CacheServiceOptions
    @Option(help: "The node this agent runs on.") var node: String

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try cache.resolve()
        var logger = Logger(label: "zonal.cache")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let plan: CacheNodePlan
        do {
            plan = try CacheNodePlan(topology: topology, service: service.name, node: node, stateDirectory: cache.stateDirectory(topology))
        } catch { throw CommandFailure(error.description) }
        let coordinator = try cache.topologyOptions.coordinatorClient(topology, requestTimeout: .milliseconds(500))
        let agent: CacheAgent
        let password: CachePassword
        do {
            password = try CachePassword.loadOrCreate(file: plan.passwordFile)
            agent = try CacheAgent(plan: plan, coordinator: coordinator, logger: logger)
        } catch { throw CommandFailure("\(error)") }
        print(
            "agent of \(plan.me.name) for \(service.name): Redis on \(plan.me.redisAddress), Sentinel on \(plan.me.host):\(plan.me.sentinelPort), API on \(plan.me.apiAddress)"
        )
        print("connect with the password in \(plan.passwordFile): redis-cli -h \(plan.me.host) -p \(plan.me.port) --askpass")
        let api = CacheAgentAPI(agent: agent, tokens: .fromEnvironment()).application(
            host: plan.me.host, port: plan.me.apiPort, limits: topology.supervisor.api, logger: logger)
        let sentinel = SentinelListener(plan: plan, coordinator: coordinator, password: password, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent, api, sentinel], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
