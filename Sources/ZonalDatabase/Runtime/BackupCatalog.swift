import Foundation
import ZonalCore

/// A cluster's backups in one directory: base backups under `base/` (each a plain data
/// directory plus `<name>.json`) and archived WAL under `wal/`. Taking a base backup, listing
/// them and applying retention.
public struct BackupCatalog: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    var baseDirectory: String { directory + "/base" }
    public var archive: WALArchive { WALArchive(directory: directory + "/wal") }

    /// Base backups, oldest first.
    public func list() -> [BaseBackupRecord] {
        let decoder = JSONDecoder.zonal()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: baseDirectory)) ?? []
        return names.filter { $0.hasSuffix(".json") }
            .compactMap { try? decoder.decode(BaseBackupRecord.self, from: Data(contentsOf: URL(fileURLWithPath: baseDirectory + "/" + $0))) }
            .sorted { $0.finishedAt < $1.finishedAt }
    }

    /// Creates `base/` and `wal/` for the server's account, which writes into both, private to
    /// it; each new directory is made durable in its parent before any segment is archived there.
    func prepare(for account: ServerAccount) throws {
        for path in [directory, baseDirectory, archive.directory] {
            if !FileManager.default.fileExists(atPath: path) {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try DurableFile.syncDirectory((path as NSString).deletingLastPathComponent)
            }
            try account.own(path)
        }
    }

    /// What a scheduled or manual base backup does: take one, then let `retention` remove the
    /// backups and archived WAL it no longer keeps. Returns the new backup and what was removed.
    public func takeAndPrune(
        fromHost host: String, port: Int, node: String, using controller: PostgresController,
        retention: Retention
    ) async throws -> (backup: BaseBackupRecord, pruned: (backups: [String], segments: [String])) {
        let record = try await take(fromHost: host, port: port, node: node, using: controller)
        return (record, try prune(retention))
    }

    /// Takes a base backup of the server at `host:port` (WAL streamed alongside, so it is whole on
    /// its own). It appears under its final name only when complete.
    public func take(fromHost host: String, port: Int, node: String, using controller: PostgresController) async throws -> BaseBackupRecord {
        try prepare(for: controller.account)
        let startedAt = Date()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let name = formatter.string(from: startedAt)
        let partial = "\(baseDirectory)/\(name).partial"
        do {
            try await controller.baseBackup(fromHost: host, port: port, into: partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        let label = (try? String(contentsOfFile: partial + "/backup_label", encoding: .utf8)) ?? ""
        // "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)"
        guard let line = label.split(separator: "\n").first(where: { $0.hasPrefix("START WAL LOCATION") }),
            let file = line.split(separator: "(file ").last?.prefix(24)
        else {
            throw DatabaseError.commandFailed(program: "pg_basebackup", status: "left no backup_label", output: partial)
        }
        try FileManager.default.moveItem(atPath: partial, toPath: "\(baseDirectory)/\(name)")
        let record = BaseBackupRecord(name: name, node: node, startedAt: startedAt, finishedAt: Date(), startSegment: String(file))
        try DurableFile.write(try JSONEncoder.zonal(pretty: true).encode(record), to: "\(baseDirectory)/\(name).json")
        return record
    }

    /// Deletes the base backups `retention` lets go and the archived WAL no kept backup needs.
    @discardableResult
    public func prune(_ retention: Retention, now: Date = Date()) throws -> (backups: [String], segments: [String]) {
        let all = list()
        let expired = BackupRetention.expired(all, under: retention, now: now)
        for backup in expired {
            // The record goes first: a backup without one is no longer offered for restores.
            try FileManager.default.removeItem(atPath: "\(baseDirectory)/\(backup.name).json")
            try FileManager.default.removeItem(atPath: "\(baseDirectory)/\(backup.name)")
        }
        let kept = all.filter { backup in !expired.contains(backup) }
        let segments = BackupRetention.prunableSegments(try archive.segments(), keptBackups: kept)
        for segment in segments { try archive.remove(segment) }
        return (expired.map(\.name), segments)
    }
}
