import ArgumentParser
import Foundation
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
        let deployment = LocalDeployment(
            topology: topology, topologyPath: file.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            stateDirectory: stateDir ?? topology.defaultStateDirectory, readyTimeout: readyTimeout)
        try await deployment.run { message in
            // Unbuffered, so that a reader of a redirected output sees it at once.
            FileHandle.standardOutput.write(Data((message + "\n").utf8))
        }
    }
}
