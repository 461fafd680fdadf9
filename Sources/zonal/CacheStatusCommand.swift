import ArgumentParser
import ZonalCache
import ZonalCore

struct CacheStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Role, replication offset and lag of every node of a redis service, and recent failovers."
    )

    @OptionGroup var cache: CacheServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (topology, service) = try cache.resolve()
        let store = CacheStore(
            coordinator: try cache.topologyOptions.coordinatorClient(topology, stateDirectory: cache.stateDirectory(topology)), service: service.name)
        let view = try await store.read().view
        let events = try await store.events()
        if json {
            try printJSON(CacheStatusReport(service: service.name, view: view, events: events))
            return
        }
        print(CacheStatusTable(service: service, view: view, events: events).render())
        print("\npassword in \(CachePassword.file(service: service.name, stateDirectory: cache.stateDirectory(topology)))")
    }
}
