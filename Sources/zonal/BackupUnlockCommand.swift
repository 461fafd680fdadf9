import ArgumentParser
import ZonalBackup
import ZonalCore

struct BackupUnlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Remove stale locks: of processes gone from this host, or not refreshed for 30 minutes.",
        discussion: "With --all, every lock goes at once: only when you know no backup, copy or prune is running on any machine."
    )
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Remove every lock, live or not.") var all = false

    func run() async throws {
        let opened = try await repository.open()
        let removed = try await RepositoryLock.removeLocks(in: opened.store, all: all)
        print("\(removed) lock(s) removed")
    }
}
