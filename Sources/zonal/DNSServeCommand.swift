import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZonalCore
import ZonalDNS
import ZonalObservability
import ZonalProcess

struct DNSServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one instance of a DNS service of the topology.",
        discussion: """
            Answers over UDP and TCP on the node's address and the service's port, checks the addresses \
            of the health-checked records, and serves the admin API on the service's admin port. SIGHUP \
            (or POST /reload on the admin port) reads the topology and the zone files again without \
            dropping queries.
            """
    )

    @OptionGroup var dns: DNSServiceOptions
    @Option(help: "The node this instance runs on (default: the service's first node).") var node: String?

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try dns.resolve()
        guard let node = node ?? service.nodes.first else { throw CommandFailure("service \(service.name) has no instance") }
        var logger = Logger(label: "zonal.dns")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let options = dns.topologyOptions
        let directory = options.topology.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let serviceName = service.name
        let makePlan: @Sendable () throws -> DNSPlan = {
            do { return try DNSPlan(topology: try options.load(), service: serviceName, node: node, directory: directory) } catch let error as DNSPlanError {
                throw CommandFailure(error.description)
            }
        }
        let plan = try makePlan()
        let server: NameServer
        do { server = try NameServer(plan: plan, logger: logger, reloadPlan: makePlan) } catch { throw CommandFailure("\(error)") }
        var services = server.services { address in print("DNS \(serviceName) on \(address) (UDP and TCP)") }
        if let adminPort = plan.adminPort {
            services.append(
                DNSAdminAPI(server: server, tokens: .fromEnvironment()).application(
                    host: plan.host, port: adminPort, limits: topology.supervisor.api, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
