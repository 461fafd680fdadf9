import ArgumentParser
import ZonalSupervisor

extension Supervisor.Scope: ExpressibleByArgument {}

struct FailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fail",
        abstract: "Kill -9 every process of a zone or node, as if it lost power, and keep it down.",
        discussion: "Example: zonal fail zone east-a. Bring it back with `zonal recover zone east-a`."
    )

    @Argument(help: "zone or node")
    var scope: Supervisor.Scope

    @Argument(help: "The zone or node name.")
    var name: String

    @OptionGroup var options: TopologyOptions

    func run() async throws {
        let result = try await reportingControlErrors { try await options.controlClient().fail(scope, name) }
        print(OperatorActionText.render(result))
    }
}

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recover", abstract: "Start again every process of a zone or node that `zonal fail` stopped.")

    @Argument(help: "zone or node")
    var scope: Supervisor.Scope

    @Argument(help: "The zone or node name.")
    var name: String

    @OptionGroup var options: TopologyOptions

    func run() async throws {
        let result = try await reportingControlErrors { try await options.controlClient().recover(scope, name) }
        print(OperatorActionText.render(result))
    }
}

/// One line per affected instance, as printed by `fail` and `recover`.
enum OperatorActionText {
    static func render(_ result: OperatorActionResult) -> String {
        let lines = result.instances.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        return (["\(result.action) \(result.scope) \(result.name): \(result.instances.count) instance(s)"] + lines).joined(separator: "\n")
    }
}
