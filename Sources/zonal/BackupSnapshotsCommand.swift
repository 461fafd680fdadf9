import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupSnapshots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let snapshots = try await repository.open().snapshots()
        if json { return try printJSON(snapshots) }
        for snapshot in snapshots {
            print(
                "\(snapshot.id.prefix(12))  \(snapshot.time.formatted(.iso8601))  \(snapshot.hostname)  \(ByteText.format(snapshot.summary.bytes))  \(snapshot.paths.joined(separator: " "))"
            )
        }
    }
}
