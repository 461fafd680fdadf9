import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalProcess
import ZonalSupervisor

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run a topology on this machine until Ctrl-C (default: the built-in quickstart).",
        discussion: "Every node must have a loopback address: on one machine, each zone is a group of local processes."
    )

    @Argument(help: "Topology file (default: the built-in quickstart topology).")
    var file: String?

    @Option(help: "Directory for logs and events (default: the topology's state_dir, or .zonal/NAME).")
    var stateDir: String?

    @Option(help: "How long to wait for every instance to be healthy before reporting, e.g. 60s.")
    var readyTimeout: String = "60s"

    func run() async throws {
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let topology = try loadTopology(path: file)
        guard let readyTimeout = Duration(configText: readyTimeout) else {
            throw ValidationError("--ready-timeout must look like 30s or 2m, got \(self.readyTimeout)")
        }
        for node in topology.nodes where !IPAddressText.isLoopback(node.address) {
            throw CommandFailure("node \(node.name) has address \(node.address); `zonal up` runs every node on this machine, so each needs a loopback address (127.0.0.0/8 or ::1)")
        }
        let settings = topology.supervisor
        if await ControlClient(host: settings.controlHost, port: settings.controlPort, token: nil, timeout: .seconds(1)).answers() {
            throw CommandFailure("a supervisor already answers on \(settings.controlHost):\(settings.controlPort); stop it first or choose another supervisor.control_port")
        }
        let directory = stateDir ?? topology.defaultStateDirectory
        try FileManager.default.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)
        let token: AdminToken
        do { token = try AdminToken.loadOrCreate(stateDirectory: directory) } catch { throw CommandFailure(error.description) }
        let tokenFile = URL(fileURLWithPath: "\(directory)/\(AdminToken.fileName)").standardizedFileURL.path
        let tokens = AdminTokenSource(file: tokenFile)
        // Every child (services, agents, scheduled backups) finds the token through this path.
        setenv(AdminToken.fileEnvironmentKey, tokenFile, 1)

        let logger = Logger(label: "zonal.supervisor")
        let (coordinator, coordinatorServices) = try await Self.startCoordinator(topology.coordinator, stateDirectory: directory, token: token, tokens: tokens,
                                                                                 limits: topology.supervisor.api, logger: logger)
        let supervisor = Supervisor(
            topology: topology,
            launcher: InstanceLauncher(zonalExecutable: ZonalExecutable.current, stateDirectory: directory,
                                       topologyPath: file.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                       metrics: topology.supervisor.api.metrics),
            events: EventLog(path: "\(directory)/events.jsonl", logger: logger),
            coordinator: coordinator,
            logger: logger
        )
        let service = SupervisorService(supervisor: supervisor, readyTimeout: readyTimeout) { report, allHealthy in
            // Unbuffered, so that a reader of a redirected output sees it at once.
            FileHandle.standardOutput.write(Data((Self.readyMessage(report, topology: topology, allHealthy: allHealthy, stateDirectory: directory) + "\n").utf8))
        }
        var services = coordinatorServices + [.init(service: ControlAPI(supervisor: supervisor, tokens: tokens).application(logger: logger)), .init(service: service)]
        if !topology.backups.isEmpty {
            services.append(.init(service: BackupScheduler(policies: topology.backups, zonalExecutable: ZonalExecutable.current,
                                                           stateDirectory: directory, events: supervisor.events, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    /// The topology's coordinator: the embedded one, served on its loopback address, or a
    /// client of the etcd cluster, which must answer before anything starts.
    static func startCoordinator(_ settings: CoordinatorSettings, stateDirectory: String, token: AdminToken, tokens: AdminTokenSource, limits: APILimits,
                                 logger: Logger) async throws -> (any Coordinator, [ServiceGroupConfiguration.ServiceConfiguration]) {
        switch settings.backend {
        case .embedded:
            do {
                let (coordinator, server) = try CoordinatorServer.start(directory: "\(stateDirectory)/coordinator", host: settings.host, port: settings.port,
                                                                        tokens: tokens, limits: limits, logger: logger)
                return (coordinator, [.init(service: server)])
            } catch {
                throw CommandFailure(error.description)
            }
        case .etcd:
            do {
                let client = try EtcdCoordinator(settings: settings, token: token)
                // A local cluster is started by the supervisor itself (and gets authentication on
                // once it answers); an external one must answer now.
                guard settings.localCluster else {
                    _ = try await client.status()
                    return (client, [])
                }
                return (client, [.init(service: LocalClusterAuthentication(client: client, logger: logger), successTerminationBehavior: .ignore)])
            } catch {
                throw CommandFailure("the topology's etcd cluster does not answer: \(error.description)")
            }
        }
    }

    static func readyMessage(_ report: StatusReport, topology: Topology, allHealthy: Bool, stateDirectory: String) -> String {
        let healthy = report.instances.filter(\.isHealthy).count
        var lines = [allHealthy
            ? "topology \(report.topology) is up: \(healthy)/\(report.instances.count) instances healthy"
            : "topology \(report.topology) is running, but only \(healthy)/\(report.instances.count) instances are healthy"]
        for instance in report.instances {
            let admin = instance.adminAddress.map { "  admin http://\($0)" } ?? ""
            lines.append("  \(instance.id.padding(toLength: 18, withPad: " ", startingAt: 0)) \(instance.region)/\(instance.zone)  \(instance.health.padding(toLength: 9, withPad: " ", startingAt: 0)) http://\(instance.address)\(admin)")
        }
        lines += balancerLines(topology)
        lines.append("coordinator: \(report.coordinator) at \(report.coordinator.endpoints.joined(separator: ", "))")
        lines.append("control API http://\(report.control)  (zonal status, zonal fail zone NAME, zonal recover zone NAME, zonal events)")
        lines.append("logs and events in \(stateDirectory); Ctrl-C stops everything")
        return lines.joined(separator: "\n")
    }

    /// Where clients reach each balancer, and which servers stand behind it.
    static func balancerLines(_ topology: Topology) -> [String] {
        topology.instances.flatMap { instance -> [String] in
            guard case .balancer(let spec) = instance.service.kind else { return [] }
            return spec.listeners.map { listener in
                let scheme = listener.mode == .tcp ? "tcp " : "\(listener.mode.rawValue)://"
                let pool = spec.pools.first { $0.name == listener.pool }
                let backing = pool?.service.flatMap { name in topology.services.first { $0.name == name } }
                let primary = pool?.primaryZone ?? backing?.primaryZone, secondary = pool?.secondaryZone ?? backing?.secondaryZone
                var zones = primary.map { "primary zone \($0)" + (secondary.map { ", secondary zone \($0)" } ?? "") } ?? "all zones"
                if let role = pool?.role, let service = pool?.service { zones = role == .primary ? "PostgreSQL primary of \(service)" : "PostgreSQL replicas of \(service)" }
                return "balancer \(instance.service.name) \(listener.name): \(scheme)\(IPAddressText.hostPort(instance.node.address, listener.port))  -> pool \(listener.pool) (\(zones))"
            }
        }
    }
}
