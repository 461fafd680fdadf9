import ArgumentParser
import ZonalCore

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a topology file and list every problem with its line.")

    @Argument(help: "The topology file.")
    var file: String

    func run() throws {
        do {
            let topology = try TopologyLoader.load(path: file)
            print(
                "\(file): topology \(topology.name) is valid: \(topology.regions.count) region(s), \(topology.zoneNames.count) zone(s), \(topology.nodes.count) node(s), \(topology.instances.count) service instance(s)"
            )
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }
}
