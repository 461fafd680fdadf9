import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupRestore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a snapshot into a new or empty directory.")
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Snapshot id (a prefix is enough) or `latest`.") var snapshot: String
    @Option(help: "Directory to restore into (must not exist or be empty).") var target: String

    func run() async throws {
        let opened = try await repository.open()
        let started = ContinuousClock.now
        let result = try await Restorer(repository: opened).restore(try opened.snapshot(snapshot), into: target)
        let seconds = (ContinuousClock.now - started).seconds
        print(
            "restored \(result.files) files, \(result.directories) directories, \(ByteText.format(result.bytes)) into \(target) in \(String(format: "%.1f", seconds)) s"
        )
        try reportWarnings(result.warnings) { "\($0) entr(ies) could not be restored (listed above); everything else is in place" }
    }
}
