import ArgumentParser
import ZonalCore
import ZonalDatabase

/// PostgreSQL's `archive_command` (run by the server as its own user).
struct ArchiveWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-wal", abstract: "Archive one WAL segment (PostgreSQL's archive_command).", shouldDisplay: false)

    @Option(help: "The archive directory.") var to: String
    @Argument(help: "The segment's path (%p).") var path: String
    @Argument(help: "The segment's name (%f).") var name: String

    func run() throws {
        // Any failure is a non-zero exit: PostgreSQL keeps the segment and retries it.
        do { try WALArchive(directory: to).archive(source: path, name: name) } catch { throw CommandFailure("\(error)") }
    }
}
