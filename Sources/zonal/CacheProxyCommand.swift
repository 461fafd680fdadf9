import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCache
import ZonalCore
import ZonalObservability
import ZonalProcess

struct CacheProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run one instance of a redis-proxy service: clients connect here and reach the current master.",
        discussion: "`zonal up` starts one per node of each redis-proxy service."
    )

    @OptionGroup var cache: CacheServiceOptions
    @Option(help: "The node this instance runs on (default: the service's first node).") var node: String?

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try cache.resolve(kind: "redis-proxy")
        guard let node = node ?? service.nodes.first else { throw CommandFailure("service \(service.name) has no instance") }
        var logger = Logger(label: "zonal.cache.proxy")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let plan: CacheProxyPlan
        let proxy: CacheProxy
        do {
            plan = try CacheProxyPlan(topology: topology, service: service.name, node: node, stateDirectory: cache.stateDirectory(topology))
            proxy = try CacheProxy(plan: plan, coordinator: try cache.topologyOptions.coordinatorClient(topology), logger: logger)
        } catch let error as CommandFailure {
            throw error
        } catch { throw CommandFailure("\(error)") }
        print("RESP proxy \(service.name) on \(plan.address) for \(plan.spec.cache); password in \(plan.passwordFile)")
        var services: [any Service] = [proxy]
        if let adminPort = plan.adminPort {
            services.append(
                CacheProxyAPI(directory: proxy.directory, tokens: .fromEnvironment()).application(
                    host: plan.host, port: adminPort, limits: topology.supervisor.api, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
