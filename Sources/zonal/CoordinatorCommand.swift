import ArgumentParser
import Foundation
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
        @Option(help: "File holding the admin token clients must present (default: admin-token in --data-dir, created when missing).")
        var tokenFile: String?

        func validate() throws {
            guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535, got \(port)") }
        }

        func run() async throws {
            Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
            guard IPAddressText.isLoopback(host) else { throw ValidationError("--host must be a loopback address (127.0.0.0/8 or ::1), not \(host)") }
            let logger = Logger(label: "zonal.coordinator")
            let tokens: AdminTokenSource
            do {
                try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
                if tokenFile == nil { _ = try AdminToken.loadOrCreate(stateDirectory: dataDir) }
                tokens = AdminTokenSource(file: tokenFile ?? "\(dataDir)/\(AdminToken.fileName)")
            } catch {
                throw CommandFailure("\(error)")
            }
            do {
                let (_, server) = try CoordinatorServer.start(directory: dataDir, host: host, port: port, tokens: tokens, logger: logger)
                try await ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
            } catch let error as CoordinatorError {
                throw CommandFailure(error.description)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the topology's coordinator whether it answers, and who leads it.")

        @OptionGroup var options: TopologyOptions

        func run() async throws {
            let settings = try options.load().coordinator
            let token = try options.adminToken()
            do {
                let status = try await EtcdCoordinator(settings: settings, token: token).status()
                print("\(status.backend) coordinator at \(status.endpoint): version \(status.version), leader \(status.leader), revision \(status.revision)")
            } catch {
                throw CommandFailure(error.description)
            }
        }
    }
}
