import ArgumentParser
import Foundation
import ZonalCore
import ZonalSupervisor

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show every instance of a running topology: zone, role, health, process, address.")

    @OptionGroup var options: TopologyOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let report = try await options.controlClient().status()
        if json {
            try printJSON(report)
        } else {
            print(StatusTable(colored: StatusTable.terminalWantsColor).render(report))
        }
    }
}
