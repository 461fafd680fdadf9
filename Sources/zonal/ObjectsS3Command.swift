import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCore
import ZonalObjects
import ZonalObservability
import ZonalProcess

struct ObjectsS3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3",
        abstract: "Run one S3 front end of an s3 service, in front of its object store.",
        discussion: "`zonal up` starts one per node of each s3 service. Clients sign with the store's credentials (`zonal objects credentials`)."
    )

    @OptionGroup var objects: ObjectsServiceOptions
    @Option(help: "The node this instance runs on (default: the service's first node).") var node: String?

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try objects.resolve(kind: "s3")
        guard let node = node ?? service.nodes.first else { throw CommandFailure("service \(service.name) has no instance") }
        var logger = Logger(label: "zonal.objects.s3")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let services: [any Service]
        do {
            let plan = try S3GatewayPlan(topology: topology, service: service.name, node: node, stateDirectory: objects.stateDirectory(topology))
            let coordinator = try objects.coordinator(topology)
            services = try ObjectsRoles.gateway(plan, coordinator: coordinator, limits: topology.supervisor.api, tokens: .fromEnvironment(), logger: logger)
            print("S3 front end \(service.name) on http://\(plan.address) (region \(plan.region)) for store \(plan.store)")
        } catch let error as CommandFailure {
            throw error
        } catch { throw CommandFailure("\(error)") }
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}
