import ArgumentParser
import ZonalCore
import ZonalObjects
import ZonalObservability

struct ObjectsScrubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "The storage nodes' scrubbers: replicas verified, and missing or damaged ones healed.",
        subcommands: [ObjectsScrubStatusCommand.self]
    )
}

struct ObjectsScrubStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per storage node: the scrub pass under way and the last one, with what each found and healed."
    )

    @OptionGroup var objects: ObjectsServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (topology, service) = try objects.resolve(kind: "object-store")
        let token = try objects.topologyOptions.adminToken(stateDirectory: objects.stateDirectory(topology))
        try await InstanceStatus<ScrubStatus>(topology: topology, service: service, path: "/scrub").print(json: json, token: token) {
            ScrubStatusTable(reports: $0).render()
        }
    }
}
