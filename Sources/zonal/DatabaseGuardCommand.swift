import ArgumentParser
import ZonalCore
import ZonalDatabase

/// Started by an agent in front of its PostgreSQL server; see ``ServerGuard``.
struct DatabaseGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run a PostgreSQL server that stops at once when its agent dies (started by the agent).",
        shouldDisplay: false
    )

    @Option(help: "The agent's PID.") var parent: Int32
    @Argument(parsing: .postTerminator, help: "The server's command line.") var command: [String]

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("give the server's command after --") }
        guard parent > 1 else { throw ValidationError("--parent must be the agent's PID, got \(parent)") }
        ServerGuard.run(command, parent: parent)
    }
}
