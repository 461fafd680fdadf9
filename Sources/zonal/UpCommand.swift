import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZonalCore
import ZonalObservability
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
        if (try? await ControlClient(host: settings.controlHost, port: settings.controlPort, timeout: .seconds(1)).status()) != nil {
            throw CommandFailure("a supervisor already answers on \(settings.controlHost):\(settings.controlPort); stop it first or choose another supervisor.control_port")
        }
        let directory = stateDir ?? settings.stateDirectory ?? ".zonal/\(topology.name)"
        try FileManager.default.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)

        let logger = Logger(label: "zonal.supervisor")
        let supervisor = Supervisor(
            topology: topology,
            launcher: InstanceLauncher(zonalExecutable: InstanceLauncher.currentExecutable, logDirectory: "\(directory)/logs"),
            events: EventLog(path: "\(directory)/events.jsonl", logger: logger),
            logger: logger
        )
        let service = SupervisorService(supervisor: supervisor, readyTimeout: readyTimeout) { report, allHealthy in
            // Unbuffered, so that a reader of a redirected output sees it at once.
            FileHandle.standardOutput.write(Data((Self.readyMessage(report, allHealthy: allHealthy, stateDirectory: directory) + "\n").utf8))
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: ControlAPI(supervisor: supervisor).application(logger: logger)), .init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    static func readyMessage(_ report: StatusReport, allHealthy: Bool, stateDirectory: String) -> String {
        let healthy = report.instances.filter(\.isHealthy).count
        var lines = [allHealthy
            ? "topology \(report.topology) is up: \(healthy)/\(report.instances.count) instances healthy"
            : "topology \(report.topology) is running, but only \(healthy)/\(report.instances.count) instances are healthy"]
        for instance in report.instances {
            let admin = instance.adminAddress.map { "  admin http://\($0)" } ?? ""
            lines.append("  \(instance.id.padding(toLength: 18, withPad: " ", startingAt: 0)) \(instance.region)/\(instance.zone)  \(instance.health.padding(toLength: 9, withPad: " ", startingAt: 0)) http://\(instance.address)\(admin)")
        }
        lines.append("control API http://\(report.control)  (zonal status, zonal fail zone NAME, zonal recover zone NAME, zonal events)")
        lines.append("logs and events in \(stateDirectory); Ctrl-C stops everything")
        return lines.joined(separator: "\n")
    }
}
