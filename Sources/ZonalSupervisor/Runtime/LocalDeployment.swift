import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalProcess

/// What `zonal up` runs: a whole topology on this machine — its coordinator (embedded, a local
/// etcd cluster or an external one), every instance under the supervisor, the control API and
/// the scheduled backups — until SIGTERM or SIGINT.
public struct LocalDeployment: Sendable {
    public let topology: Topology
    /// The topology file, handed to built-in services that read it; nil for the quickstart.
    public let topologyPath: String?
    public let stateDirectory: String
    /// How long to wait for every instance to be healthy before reporting.
    public let readyTimeout: Duration

    public init(topology: Topology, topologyPath: String?, stateDirectory: String, readyTimeout: Duration) {
        self.topology = topology
        self.topologyPath = topologyPath
        self.stateDirectory = stateDirectory
        self.readyTimeout = readyTimeout
    }

    /// Runs until shutdown; `onReady` gets the ready message once every instance is healthy or
    /// the ready timeout passed.
    public func run(onReady: @escaping @Sendable (String) -> Void) async throws {
        let topology = self.topology
        let readyTimeout = self.readyTimeout
        for node in topology.nodes where !IPAddressText.isLoopback(node.address) {
            throw LocalDeploymentError(
                "node \(node.name) has address \(node.address); `zonal up` runs every node on this machine, so each needs a loopback address (127.0.0.0/8 or ::1)"
            )
        }
        let settings = topology.supervisor
        if await ControlClient(host: settings.controlHost, port: settings.controlPort, token: nil, timeout: .seconds(1)).answers() {
            throw LocalDeploymentError(
                "a supervisor already answers on \(settings.controlHost):\(settings.controlPort); stop it first or choose another supervisor.control_port")
        }
        let directory = stateDirectory
        try FileManager.default.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)
        let token: AdminToken
        do { token = try AdminToken.loadOrCreate(stateDirectory: directory) } catch { throw LocalDeploymentError(error.description) }
        let tokenFile = URL(fileURLWithPath: "\(directory)/\(AdminToken.fileName)").standardizedFileURL.path
        let tokens = AdminTokenSource(file: tokenFile)
        // Every child (services, agents, scheduled backups) finds the token through this path.
        setenv(AdminToken.fileEnvironmentKey, tokenFile, 1)

        let logger = Logger(label: "zonal.supervisor")
        let (coordinator, coordinatorServices) = try await Self.startCoordinator(
            topology.coordinator, stateDirectory: directory, token: token, tokens: tokens,
            limits: topology.supervisor.api, logger: logger)
        let supervisor = Supervisor(
            topology: topology,
            launcher: InstanceLauncher(
                zonalExecutable: ZonalExecutable.current, stateDirectory: directory,
                topologyPath: topologyPath,
                metrics: topology.supervisor.api.metrics),
            events: EventLog(path: "\(directory)/events.jsonl", logger: logger),
            coordinator: coordinator,
            logger: logger
        )
        let service = SupervisorService(supervisor: supervisor, readyTimeout: readyTimeout) { report, allHealthy in
            onReady(ReadyMessage(report: report, topology: topology, allHealthy: allHealthy, stateDirectory: directory).text)
        }
        var services =
            coordinatorServices + [.init(service: ControlAPI(supervisor: supervisor, tokens: tokens).application(logger: logger)), .init(service: service)]
        if !topology.backups.isEmpty {
            services.append(
                .init(
                    service: BackupScheduler(
                        topology: topology, zonalExecutable: ZonalExecutable.current,
                        stateDirectory: directory, events: supervisor.events, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
    }

    /// The topology's coordinator: the embedded one, served on its loopback address, or a
    /// client of the etcd cluster, which must answer before anything starts.
    static func startCoordinator(
        _ settings: CoordinatorSpec, stateDirectory: String, token: AdminToken, tokens: AdminTokenSource, limits: APILimits,
        logger: Logger
    ) async throws -> (any Coordinator, [ServiceGroupConfiguration.ServiceConfiguration]) {
        switch settings.backend {
        case .embedded:
            do {
                let (coordinator, server) = try CoordinatorServer.start(
                    directory: "\(stateDirectory)/coordinator", host: settings.host, port: settings.port,
                    tokens: tokens, limits: limits, logger: logger)
                return (coordinator, [.init(service: server)])
            } catch {
                throw LocalDeploymentError(error.description)
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
                throw LocalDeploymentError("the topology's etcd cluster does not answer: \(error.description)")
            }
        }
    }
}

/// Why a topology cannot run here, in one sentence.
public struct LocalDeploymentError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
