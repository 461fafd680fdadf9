import ArgumentParser
import ZonalBackup
import ZonalCore

struct BackupDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Show what changed between two snapshots (+ added, - removed, M modified).")
    @OptionGroup var repository: RepositoryOptions
    @Argument var first: String
    @Argument var second: String

    func run() async throws {
        let opened = try await repository.open()
        let entries = try await SnapshotDiff(repository: opened).compare(try opened.snapshot(first), try opened.snapshot(second))
        for entry in entries { print(entry) }
        let counts = Dictionary(grouping: entries, by: \.change).mapValues(\.count)
        print("\(counts[.added] ?? 0) added, \(counts[.removed] ?? 0) removed, \(counts[.modified] ?? 0) modified")
    }
}
