import ArgumentParser
import Foundation
import ZonalCore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "List what happened: failures, recoveries, restarts and health changes, with times.")

    @OptionGroup var options: TopologyOptions

    @Flag(help: "Print JSON instead of lines.")
    var json = false

    func run() async throws {
        let events = try await options.controlClient().events()
        if json {
            try printJSON(events)
        } else {
            events.forEach { print($0) }
        }
    }
}
