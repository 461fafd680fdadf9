import ArgumentParser
import ZonalCore
import ZonalDatabase

struct DatabaseSwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Hand the primary role to another node without losing an acknowledged commit.",
        discussion:
            "The primary stops cleanly once the target streams from it, so the target has every commit; the target then takes the leader key and is promoted, and the old primary rejoins as a standby."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The node to become primary.") var to: String
    @Option(help: "How long to wait for the switchover, e.g. 30s.") var timeout: String = "30s"

    func run() async throws {
        let (store, service) = try database.store()
        guard let limit = Duration(configText: timeout) else { throw CommandFailure("--timeout must be a duration such as 30s, got \(timeout)") }
        let outcome = try await Switchover(store: store).run(to: to, nodes: service.nodes, service: service.name, timeout: limit)
        print("switchover: \(outcome.to) is the primary (was \(outcome.from)) after \(outcome.took.zonalDescription)")
    }
}
