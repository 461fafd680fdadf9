import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCore
import ZonalObjects
import ZonalObservability
import ZonalProcess

struct ObjectsNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one storage node of an object-store service: it keeps replicas for the S3 front ends.",
        discussion: "`zonal up` starts one per node of each object-store service."
    )

    @OptionGroup var objects: ObjectsServiceOptions
    @Option(help: "The node this instance runs on (default: the service's first node).") var node: String?

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try objects.resolve(kind: "object-store")
        guard let node = node ?? service.nodes.first else { throw CommandFailure("service \(service.name) has no instance") }
        var logger = Logger(label: "zonal.objects.node")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let services: [any Service]
        do {
            let plan = try StorageNodePlan(topology: topology, service: service.name, node: node, stateDirectory: objects.stateDirectory(topology))
            services = try await ObjectsRoles.storageNode(plan, limits: topology.supervisor.api, tokens: .fromEnvironment(), logger: logger)
            print("storage node \(service.name)/\(node) on \(IPAddressText.hostPort(plan.host, plan.port)), data in \(plan.dataDirectory)")
        } catch { throw CommandFailure("\(error)") }
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}
