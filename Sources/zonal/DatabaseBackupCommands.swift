import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalDatabase

struct DatabaseBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of the current primary now, then apply retention.",
        discussion: "Backups go to the service's database.backup.directory (base/ and the archived WAL in wal/); the primary's agent also takes them every database.backup.interval."
    )

    @OptionGroup var database: DatabaseServiceOptions

    func run() async throws {
        let (spec, backup, service) = try database.backup()
        let (store, _) = try database.store()
        guard let leader = try await store.read().view.leader, let topology = try? database.topologyOptions.load(), let node = topology.node(named: leader) else {
            throw CommandFailure("\(service.name) has no primary now; a base backup needs one")
        }
        let catalog = BackupCatalog(directory: backup.directory)
        let (password, _) = try database.password()
        let controller = try PostgresController(binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory, dataDirectory: backup.directory,
                                                logFile: backup.directory + "/backup.log", password: password, logger: Logger(label: "zonal.db"))
        let (record, pruned) = try await catalog.takeAndPrune(fromHost: node.address, port: service.port, node: leader, using: controller,
                                                             retention: backup.retention)
        print("base backup \(record.name) of \(leader) in \(backup.directory)/base (WAL from \(record.startSegment)); retention removed \(pruned.backups.count) backup(s), \(pruned.segments.count) WAL segment(s)")
    }
}

struct DatabaseRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Build a new PostgreSQL instance as the cluster was at a moment (point-in-time recovery).",
        discussion: "Takes the newest base backup that finished before --to-time, replays the archived WAL up to that moment and stops; DIR is then a data directory to start with pg_ctl. The cluster itself is not touched."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The moment, ISO 8601 (2026-11-26T14:30:00Z, fractions allowed).") var toTime: String
    @Option(help: "The new data directory (absent or empty).") var into: String
    @Option(help: "Port on 127.0.0.1 used while replaying.") var port: Int = 15_432

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535, got \(port)") }
    }

    func run() async throws {
        let (spec, backup, _) = try database.backup()
        guard let target = ISO8601DateFormatter.zonalFractional.date(from: toTime) ?? ISO8601DateFormatter().date(from: toTime) else {
            throw CommandFailure("--to-time must be an ISO 8601 time such as 2026-11-26T14:30:00Z, got \(toTime)")
        }
        let directory = URL(fileURLWithPath: into).standardizedFileURL.path
        let (password, _) = try database.password()
        let restore = PointInTimeRestore(catalog: BackupCatalog(directory: backup.directory), binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory,
                                         password: password, logger: Logger(label: "zonal.db"))
        let outcome = try await restore.restore(to: target, into: directory, port: port)
        print("restored to \(toTime) from base backup \(outcome.backup.name) into \(outcome.directory); start it with pg_ctl -D \(outcome.directory) (as postgres)")
    }
}

/// PostgreSQL's `archive_command` (run by the server as its own user).
struct ArchiveWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive-wal", abstract: "Archive one WAL segment (PostgreSQL's archive_command).", shouldDisplay: false)

    @Option(help: "The archive directory.") var to: String
    @Argument(help: "The segment's path (%p).") var path: String
    @Argument(help: "The segment's name (%f).") var name: String

    func run() throws {
        // Any failure is a non-zero exit: PostgreSQL keeps the segment and retries it.
        do { try WALArchive(directory: to).archive(source: path, name: name) } catch { throw CommandFailure("\(error)") }
    }
}

/// The `restore_command` of point-in-time recovery: exit 1 only when the archive has no such
/// file (the end of recovery); a fatal status for anything else (a damaged file, an unreadable
/// archive, a destination that cannot be written), so that recovery stops with the reason instead
/// of ending early and promoting at an earlier point in time.
struct RestoreWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore-wal", abstract: "Restore one archived WAL file (PostgreSQL's restore_command).", shouldDisplay: false)

    @Option(help: "The archive directory.") var from: String
    @Argument(help: "The file's name (%f).") var name: String
    @Argument(help: "Where PostgreSQL wants it (%p).") var path: String

    func run() throws {
        let found: Bool
        do {
            found = try WALArchive(directory: from).restore(name: name, to: path)
        } catch {
            FileHandle.standardError.write(Data("zonal db restore-wal: \(error)\n".utf8))
            // Above 125: PostgreSQL aborts recovery instead of treating it as the end of the archive.
            throw ExitCode(126)
        }
        guard found else { throw ExitCode(1) }
    }
}
