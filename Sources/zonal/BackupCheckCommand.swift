import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Verify the repository's structure, and with --read-data every byte.")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Read every pack and verify every blob.") var readData = false
    @Flag(help: "Take no lock, for a repository this account cannot write to (a prune running meanwhile shows as damage).") var noLock = false

    func run() async throws {
        let report = try await Checker(repository: try repository.open()).check(readData: readData, locking: !noLock)
        for note in report.notes { print("note: \(note)") }
        for error in report.errors { print("error: \(error)") }
        print(
            "\(report.snapshots) snapshot(s), \(report.packs) pack(s)\(readData ? ", \(report.blobsRead) blob(s) read" : ""): \(report.isClean ? "no errors" : "\(report.errors.count) error(s); \(report.intactSnapshots.count) snapshot(s) still restore in full")"
        )
        if !report.isClean { throw ExitCode(1) }
    }
}
