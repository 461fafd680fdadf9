import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy snapshots to a second repository (an off-site copy), re-encrypted with its key.",
        discussion: "The target's password comes from --to-password-file or ZONAL_BACKUP_TO_PASSWORD. Snapshots copied before are skipped."
    )
    @OptionGroup var repository: RepositoryOptions
    @Option(help: "The target repository: a directory or s3:http://HOST:PORT/BUCKET/PREFIX.") var to: String
    @Option(help: "A file whose first line is the target's password.") var toPasswordFile: String?
    @Argument(help: "Snapshots to copy (default: all).") var snapshots: [String] = []

    func run() async throws {
        let source = try await repository.open()
        let targetPassword: String
        if let toPasswordFile {
            targetPassword = try readPassword(from: toPasswordFile)
        } else if let password = ProcessInfo.processInfo.environment["ZONAL_BACKUP_TO_PASSWORD"] {
            targetPassword = password
        } else {
            throw ValidationError("give the target's password with --to-password-file or ZONAL_BACKUP_TO_PASSWORD")
        }
        let target = try await Repository.open(at: to, password: targetPassword)
        let copied = try await Copier(source: source, target: target).copy(try await source.snapshots(named: snapshots))
        for snapshot in copied { print("copied \(snapshot.original?.prefix(12) ?? "?") as \(snapshot.id.prefix(12))") }
        print("\(copied.count) snapshot(s) copied to \(to)")
    }
}
