import ArgumentParser
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run or ask the coordinator that holds leadership and cluster state.",
        subcommands: [Serve.self, Status.self]
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve an embedded coordinator on loopback (the subset of etcd's v3 JSON gateway Zonal uses).",
            discussion: "`zonal up` runs one itself for topologies with `coordinator: {backend: embedded}`; this command runs one alone."
        )

        @Option(help: "Loopback address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port to listen on.") var port = 7379
        @Option(help: "Directory for the state (snapshot and journal); created when missing.") var dataDir = ".zonal/coordinator"

        func run() async throws {
            Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
            guard IPAddressText.isLoopback(host) else { throw ValidationError("--host must be a loopback address (127.0.0.0/8 or ::1), not \(host)") }
            let logger = Logger(label: "zonal.coordinator")
            let coordinator: EmbeddedCoordinator
            do {
                coordinator = try EmbeddedCoordinator(directory: dataDir, endpoint: "http://\(host):\(port)")
            } catch {
                throw CommandFailure(error.description)
            }
            let server = CoordinatorServer(coordinator: coordinator).application(host: host, port: port, logger: logger)
            try await ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the topology's coordinator whether it answers, and who leads it.")

        @OptionGroup var options: TopologyOptions

        func run() async throws {
            let settings = try options.load().coordinator
            do {
                let status = try await EtcdCoordinator(endpoints: settings.clientEndpoints).status()
                print("\(status.backend) coordinator at \(status.endpoint): version \(status.version), leader \(status.leader), revision \(status.revision)")
            } catch {
                throw CommandFailure(error.description)
            }
        }
    }
}
