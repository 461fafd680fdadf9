import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore
import ZonalDatabase

/// Where PostgreSQL's archive and restore commands find the archive: the backup target and,
/// for S3, the credentials file the agent wrote for the server's account.
struct WALArchiveOptions: ParsableArguments {
    @Option(help: "The backup target: a directory or s3:http://HOST:PORT/BUCKET/PREFIX.") var archive: String
    @Option(help: "A file of AWS_*=value lines for an S3 target.") var credentialsFile: String?

    func open() throws -> WALArchive {
        let environment = try credentialsFile.map { try S3Credentials.environment(file: $0) } ?? ProcessInfo.processInfo.environment
        return WALArchive(store: try RepositoryLocation.store(archive, environment: environment))
    }
}

/// PostgreSQL's `archive_command` (run by the server as its own user).
struct ArchiveWALCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-wal", abstract: "Archive one WAL segment (PostgreSQL's archive_command).", shouldDisplay: false)

    @OptionGroup var target: WALArchiveOptions
    @Argument(help: "The segment's path (%p).") var path: String
    @Argument(help: "The segment's name (%f).") var name: String

    func run() async throws {
        // Any failure is a non-zero exit: PostgreSQL keeps the segment and retries it.
        do { try await target.open().archive(source: path, name: name) } catch { throw CommandFailure("\(error)") }
    }
}
