import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalBalancer
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalProcess

struct BalancerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balancer",
        abstract: "Run one instance of a balancer service of the topology.",
        discussion: """
            Listens on the node's address on every listener of the service, checks the pools' servers, \
            and serves the admin API on the service's admin port. SIGHUP (or POST /reload on the admin \
            port) reads the topology file again and applies pool changes without dropping connections.
            """
    )

    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The balancer service to run.") var service: String
    @Option(help: "The node this instance runs on (default: the service's first node).") var node: String?

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let topology = try topologyOptions.load()
        let node = try self.node ?? firstNode(of: topology)
        var logger = Logger(label: "zonal.balancer")
        logger[metadataKey: "service"] = "\(service)"
        logger[metadataKey: "node"] = "\(node)"
        let plan: BalancerPlan
        do { plan = try BalancerPlan(topology: topology, service: service, node: node) } catch { throw CommandFailure(error.description) }
        let options = topologyOptions
        let service = self.service
        let needsCoordinator = plan.pools.contains { $0.sharesPersistence || $0.databaseRouting != nil }
        let coordinator = try needsCoordinator ? topologyOptions.coordinatorClient(topology) : nil
        let balancer: Balancer
        do {
            balancer = try Balancer(plan: plan, coordinator: coordinator, logger: logger) {
                try BalancerPlan(topology: try options.load(), service: service, node: node)
            }
        } catch {
            throw CommandFailure(error.description)
        }
        var services = balancer.services { listener, address in
            print("listener \(listener.name) (\(listener.mode.rawValue), pool \(listener.pool)) on \(address)")
        }
        if let adminPort = plan.adminPort {
            services.append(
                BalancerAdminAPI(balancer: balancer, tokens: try adminTokens(plan)).application(
                    host: plan.adminHost, port: adminPort,
                    limits: topology.supervisor.api, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The topology's `admin_token` when it sets one, else the token `zonal up` hands its children.
    private func adminTokens(_ plan: BalancerPlan) throws -> AdminTokenSource {
        guard let literal = plan.adminToken else { return .fromEnvironment() }
        do { return AdminTokenSource(fixed: try AdminToken(secret: literal)) } catch { throw CommandFailure("admin_token: \(error)") }
    }

    private func firstNode(of topology: Topology) throws -> String {
        guard let first = topology.services.first(where: { $0.name == service })?.nodes.first else {
            throw CommandFailure("the topology has no service named \(service) with an instance")
        }
        return first
    }
}
