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


struct BackupInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a repository in an empty directory or S3 prefix (the bucket is created if missing).")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Succeed without a change when a repository is already there (for scripts and schedules).") var ifMissing = false

    func run() async throws {
        let path = try repository.path
        if ifMissing, try await Repository.exists(at: path) {
            print("a repository is already at \(path)")
            return
        }
        let created = try await Repository.initialize(at: path, password: try repository.password(confirm: true))
        print("created repository \(created.config.id.prefix(12)) at \(path)")
        print("keep the password safe: without it the backups cannot be read by anyone, you included")
    }
}

struct BackupCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Back up paths as a new snapshot (the default: `zonal backup PATH...`).")
    @OptionGroup var repository: RepositoryOptions
    @Option(name: .customLong("exclude"), help: "A pattern to leave out (repeatable): `*.tmp` or `.cache` for names anywhere, `/var/cache` for a path, `build/*.o` for a path's end.") var excludes: [String] = []
    @Flag(name: [.customShort("x"), .long], help: "Stay on the file system of each path given; mount points below are kept empty.") var oneFileSystem = false
    @Argument(help: "Files or directories to back up.") var paths: [String]

    func run() async throws {
        let opened = try await repository.open()
        let terminal = isatty(STDERR_FILENO) != 0
        let started = ContinuousClock.now
        let runner = BackupRunner(repository: opened, excludes: ExcludeRules(excludes), oneFileSystem: oneFileSystem) { progress in
            guard terminal else { return }
            let elapsed = max((ContinuousClock.now - started).seconds, 0.001)
            let line = "\(progress.files) files, \(ByteText.format(progress.bytes)), \(ByteText.format(Int64(Double(progress.bytes) / elapsed)))/s  \(progress.currentPath.suffix(40))"
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        }
        let result = try await runner.run(paths: paths)
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let summary = result.snapshot.summary
        let seconds = (ContinuousClock.now - started).seconds
        print("snapshot \(result.snapshot.id.prefix(12)) saved: \(summary.files) files, \(summary.directories) directories, \(ByteText.format(summary.bytes))")
        print("added \(ByteText.format(summary.newBytes)) of new data (\(ByteText.format(summary.storedBytes)) stored) in \(String(format: "%.1f", seconds)) s, \(ByteText.format(Int64(Double(summary.bytes) / max(seconds, 0.001))))/s")
        try reportWarnings(result.warnings) { "\($0) file(s) could not be read (listed above); the snapshot holds everything else" }
    }
}

struct BackupSnapshots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let snapshots = try await repository.open().snapshots()
        if json { return try printJSON(snapshots) }
        for snapshot in snapshots {
            print("\(snapshot.id.prefix(12))  \(snapshot.time.formatted(.iso8601))  \(snapshot.hostname)  \(ByteText.format(snapshot.summary.bytes))  \(snapshot.paths.joined(separator: " "))")
        }
    }
}

struct BackupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the files of a snapshot.")
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Snapshot id (a prefix is enough) or `latest`.") var snapshot: String

    func run() async throws {
        let opened = try await repository.open()
        let chosen = try await opened.snapshot(snapshot)
        try await list(opened, tree: chosen.tree, path: "")
    }

    private func list(_ repository: Repository, tree id: BlobID, path: String) async throws {
        for node in try await repository.loadTree(id).nodes {
            let nodePath = "\(path)/\(node.name)"
            let kind = switch node.kind {
                case .directory: "d"
                case .symlink: "l"
                case .file: "-"
                case .fifo: "p"
                case .socket: "s"
                case .characterDevice: "c"
                case .blockDevice: "b"
            }
            print("\(kind) \(String(node.mode, radix: 8))  \(String(node.size).padding(toLength: 12, withPad: " ", startingAt: 0)) \(nodePath)\(node.linkTarget.map { " -> \($0)" } ?? "")")
            if let subtree = node.subtree { try await list(repository, tree: subtree, path: nodePath) }
        }
    }
}

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
        print("restored \(result.files) files, \(result.directories) directories, \(ByteText.format(result.bytes)) into \(target) in \(String(format: "%.1f", seconds)) s")
        try reportWarnings(result.warnings) { "\($0) entr(ies) could not be restored (listed above); everything else is in place" }
    }
}

struct BackupCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Verify the repository's structure, and with --read-data every byte.")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Read every pack and verify every blob.") var readData = false
    @Flag(help: "Take no lock, for a repository this account cannot write to (a prune running meanwhile shows as damage).") var noLock = false

    func run() async throws {
        let report = try await Checker(repository: try repository.open()).check(readData: readData, locking: !noLock)
        for note in report.notes { print("note: \(note)") }
        for error in report.errors { print("error: \(error)") }
        print("\(report.snapshots) snapshot(s), \(report.packs) pack(s)\(readData ? ", \(report.blobsRead) blob(s) read" : ""): \(report.isClean ? "no errors" : "\(report.errors.count) error(s); \(report.intactSnapshots.count) snapshot(s) still restore in full")")
        if !report.isClean { throw ExitCode(1) }
    }
}

/// Sizes for people: 1.5 MiB, 3.2 GiB.
enum ByteText {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
