import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Deduplicated, compressed, encrypted backups of directories.",
        discussion: """
            The repository comes from --repo or ZONAL_BACKUP_REPOSITORY: a directory, or \
            s3:http://HOST:PORT/BUCKET/PREFIX for any S3 endpoint (keys from AWS_ACCESS_KEY_ID \
            and AWS_SECRET_ACCESS_KEY, region from AWS_DEFAULT_REGION). The password comes from \
            ZONAL_BACKUP_PASSWORD, --password-file, or a prompt on a terminal. A lost password \
            cannot be recovered: the data stays encrypted.
            """,
        subcommands: [
            BackupInit.self, BackupCreate.self, BackupSnapshots.self, BackupList.self, BackupDiff.self, BackupRestore.self,
            BackupRollback.self, BackupForget.self, BackupPrune.self, BackupUnlock.self, BackupCheck.self, BackupCopy.self,
        ],
        defaultSubcommand: BackupCreate.self
    )
}

/// Where the repository is and how to open it.
struct RepositoryOptions: ParsableArguments {
    @Option(help: "Repository: a directory or s3:http://HOST:PORT/BUCKET/PREFIX (default: $ZONAL_BACKUP_REPOSITORY).")
    var repo: String?

    @Option(help: "A file whose first line is the password (default: $ZONAL_BACKUP_PASSWORD, or a prompt).")
    var passwordFile: String?

    var path: String {
        get throws {
            guard let path = repo ?? ProcessInfo.processInfo.environment["ZONAL_BACKUP_REPOSITORY"] else {
                throw ValidationError("give the repository with --repo PATH (or s3:…) or ZONAL_BACKUP_REPOSITORY")
            }
            return path
        }
    }

    func password(confirm: Bool = false) throws -> String {
        if let passwordFile { return try readPassword(from: passwordFile) }
        if let password = ProcessInfo.processInfo.environment["ZONAL_BACKUP_PASSWORD"] { return password }
        guard isatty(STDIN_FILENO) != 0, let typed = getpass("repository password: ") else {
            throw CommandFailure("no password: set ZONAL_BACKUP_PASSWORD or give --password-file (there is no terminal to ask on)")
        }
        let password = String(cString: typed)
        if confirm, let again = getpass("again: "), String(cString: again) != password {
            throw CommandFailure("the passwords differ")
        }
        return password
    }

    func open() async throws -> Repository {
        try await Repository.open(at: try path, password: try password())
    }
}

/// The first line of a password file, which only its owner may read (as ssh wants of keys).
func readPassword(from path: String) throws -> String {
    do { return try SecretFile.read(path) } catch { throw CommandFailure("password file \(error)") }
}

/// Prints each warning on standard error; when there is any, fails (exit status 1) with
/// `summary` of their count, so scripts see that not everything was done.
func reportWarnings(_ warnings: [String], summary: (Int) -> String) throws {
    for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    if !warnings.isEmpty { throw CommandFailure(summary(warnings.count)) }
}
