import ArgumentParser
import Foundation
import ZonalCoordination
import ZonalCore
import ZonalSupervisor

/// Which topology a command works on: a file, or the built-in quickstart.
struct TopologyOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .long], help: "Topology file (default: the built-in quickstart topology).")
    var topology: String?

    @Option(help: "File holding the admin token (default: ZONAL_TOKEN, ZONAL_TOKEN_FILE, or admin-token in the topology's state directory).")
    var tokenFile: String?

    func load() throws -> Topology {
        try loadTopology(path: topology)
    }

    /// The admin token control surfaces want, found as ``AdminToken/find(tokenFile:stateDirectory:environment:)`` says.
    func adminToken(stateDirectory: String? = nil) throws -> AdminToken? {
        do {
            return try AdminToken.find(tokenFile: tokenFile, stateDirectory: stateDirectory ?? load().defaultStateDirectory)
        } catch let error as AdminTokenError {
            throw CommandFailure(error.description)
        }
    }

    /// A client of the topology's coordinator, logged in with the admin token (of `stateDirectory`,
    /// by default the topology's).
    func coordinatorClient(
        _ topology: Topology, stateDirectory: String? = nil, endpoints: [String] = [], requestTimeout: Duration = .seconds(2)
    ) throws -> EtcdCoordinator {
        do {
            return try EtcdCoordinator(
                settings: topology.coordinator, token: try adminToken(stateDirectory: stateDirectory ?? topology.defaultStateDirectory),
                endpoints: endpoints, requestTimeout: requestTimeout)
        } catch let error as CoordinatorError {
            throw CommandFailure(error.description)
        }
    }

    /// The service a command is about: the one named, or the topology's only service of `kind`
    /// (its name in topology files) when none is.
    func service(named name: String?, kind: String) throws -> (topology: Topology, service: Topology.Service) {
        let topology = try load()
        let candidates = topology.services.filter { $0.kind.name == kind }
        if let name {
            guard let found = candidates.first(where: { $0.name == name }) else {
                throw CommandFailure("the topology has no service of kind \(kind) named \(name); it has: \(candidates.map(\.name).joined(separator: ", "))")
            }
            return (topology, found)
        }
        guard candidates.count == 1, let only = candidates.first else {
            throw CommandFailure(
                candidates.isEmpty
                    ? "the topology has no service of kind \(kind)" : "name one with --service: \(candidates.map(\.name).joined(separator: ", "))")
        }
        return (topology, only)
    }

    /// A client for the control API of the supervisor running this topology.
    func controlClient() throws -> ControlClient {
        let settings = try load().supervisor
        return ControlClient(host: settings.controlHost, port: settings.controlPort, token: try adminToken())
    }
}

/// Loads the topology at `path`, or the built-in quickstart; problems become a readable error.
func loadTopology(path: String?) throws -> Topology {
    do {
        if let path { return try TopologyLoader.load(path: path) }
        return try BuiltinTopology.quickstart()
    } catch {
        throw CommandFailure(error.description)
    }
}

/// A failure to report as one clear message and exit status 1 (without the usage text that
/// ArgumentParser prints for `ValidationError`, which is for wrong arguments).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Prints a value in Zonal's JSON dialect, for the `--json` flags.
func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try JSONEncoder.zonal(pretty: true).encode(value), as: UTF8.self))
}
