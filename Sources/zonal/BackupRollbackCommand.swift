import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make a directory exactly what a snapshot holds (irreversible).",
        discussion: "Files added since the snapshot are deleted and changed ones replaced. Asks for confirmation on a terminal; elsewhere it needs --yes."
    )
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Snapshot id (a prefix is enough) or `latest`.") var snapshot: String
    @Argument(help: "The directory to roll back.") var path: String
    @Flag(help: "Do it without asking.") var yes = false

    func run() async throws {
        let opened = try await repository.open()
        let chosen = try await opened.snapshot(snapshot)
        if !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw CommandFailure("rollback replaces \(path) irreversibly; not on a terminal, so it needs --yes")
            }
            print("This makes \(path) exactly as in snapshot \(chosen.id.prefix(12)) of \(chosen.time.formatted(.iso8601)):")
            print("files created since then are DELETED and changed files replaced. This cannot be undone.")
            print("Type yes to go on: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else { throw CommandFailure("not confirmed; nothing changed") }
        }
        let result = try await Rollback(repository: opened).rollBack(path, to: chosen)
        print(
            "rolled \(path) back to snapshot \(chosen.id.prefix(12)): \(result.files) files, \(result.directories) directories, \(ByteText.format(result.bytes))"
        )
        try reportWarnings(result.warnings) { "\($0) entr(ies) could not be restored (listed above); everything else is as in the snapshot" }
    }
}
