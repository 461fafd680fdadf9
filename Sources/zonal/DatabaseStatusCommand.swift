import ArgumentParser
import Foundation
import ZonalCore
import ZonalDatabase
import ZonalSupervisor

struct DatabaseStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Role, timeline, WAL lag and synchronous state of every node, and recent failovers."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (store, service) = try database.store()
        let view = try await store.read().view
        let events = try await store.events()
        if json {
            try printJSON(DatabaseStatusReport(service: service.name, view: view, events: events))
            return
        }
        print(DatabaseStatusTable(service: service, view: view, events: events).render())
        let passwordFile = DatabaseNodePlan.passwordFile(service: service.name, stateDirectory: database.stateDirectory(try database.topologyOptions.load()))
        print(
            "\nconnect as user postgres, password in \(passwordFile): PGPASSFILE=\(ClusterPassword.clientPassfile(besides: passwordFile)) psql -U postgres -h HOST -p PORT"
        )
    }
}
