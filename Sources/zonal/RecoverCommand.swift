import ArgumentParser
import ZonalSupervisor

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover", abstract: "Start again every process of a region, zone or node that `zonal fail` stopped.")

    @OptionGroup var target: FailureTarget

    func run() async throws {
        let result = try await target.options.controlClient().recover(target.scope, target.name)
        print(OperatorActionText.render(result))
    }
}
