import ArgumentParser
import Glibc
import ZonalProcess

/// Started by an agent in front of its PostgreSQL or Redis server; see ``ServerGuard``.
struct GuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run a server that stops at once when its agent dies (started by the agents).",
        shouldDisplay: false
    )

    @Option(help: "The agent's PID.") var parent: Int32
    @Option(help: "The signal that stops the server at once: QUIT (PostgreSQL's immediate shutdown) or KILL.") var stopSignal: StopSignal = .quit
    @Argument(parsing: .postTerminator, help: "The server's command line.") var command: [String]

    enum StopSignal: String, ExpressibleByArgument {
        case quit = "QUIT"
        case kill = "KILL"

        var number: Int32 { self == .quit ? SIGQUIT : SIGKILL }
    }

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("give the server's command after --") }
        guard parent > 1 else { throw ValidationError("--parent must be the agent's PID, got \(parent)") }
        ServerGuard.run(command, parent: parent, stopSignal: stopSignal.number)
    }
}
