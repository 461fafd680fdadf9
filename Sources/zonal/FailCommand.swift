import ArgumentParser
import ZonalSupervisor

extension Supervisor.Scope: ExpressibleByArgument {}

struct FailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fail",
        abstract: "Kill -9 every process of a region, zone or node, as if it lost power, and keep it down.",
        discussion: "Example: zonal fail zone east-a, or zonal fail region east. Bring it back with `zonal recover zone east-a`."
    )

    @OptionGroup var target: FailureTarget

    func run() async throws {
        let result = try await target.options.controlClient().fail(target.scope, target.name)
        print(OperatorActionText.render(result))
    }
}

/// What `fail` and `recover` act on: a region, a zone or a node of a running topology.
struct FailureTarget: ParsableArguments {
    @Argument(help: "region, zone or node")
    var scope: Supervisor.Scope

    @Argument(help: "The region, zone or node name.")
    var name: String

    @OptionGroup var options: TopologyOptions
}

/// One line per affected instance, as printed by `fail` and `recover`.
enum OperatorActionText {
    static func render(_ result: OperatorActionResult) -> String {
        let lines = result.instances.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        return (["\(result.action) \(result.scope) \(result.name): \(result.instances.count) instance(s)"] + lines).joined(separator: "\n")
    }
}
