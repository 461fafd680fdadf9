import Foundation
import ZonalBackup
import ZonalCore

/// A cluster's backups in its backup target (a directory or an S3 bucket): base backups under
/// `base/` (each the tar files of `pg_basebackup` plus `<name>.json`) and archived WAL under
/// `wal/`. Taking a base backup, listing them, applying retention and fetching one back.
public struct BackupCatalog: Sendable {
    public let store: any RepositoryStore

    public init(store: any RepositoryStore) {
        self.store = store
    }

    public var archive: WALArchive { WALArchive(store: store) }

    static let baseDirectory = "base"

    /// Base backups, oldest first.
    public func list() async throws -> [BaseBackupRecord] {
        let decoder = JSONDecoder.zonal()
        var records: [BaseBackupRecord] = []
        for file in try await store.list(Self.baseDirectory) where file.name.hasSuffix(".json") && !file.name.contains("/") {
            guard let record = try? decoder.decode(BaseBackupRecord.self, from: Data(try await store.read("\(Self.baseDirectory)/\(file.name)"))) else {
                continue
            }
            records.append(record)
        }
        return records.sorted { $0.finishedAt < $1.finishedAt }
    }

    /// Makes the target ready: the bucket, or the directories `base/` and `wal/`, which the
    /// server's account writes into (the archive command runs as it), private to it; each new
    /// directory is made durable in its parent before any segment is archived there.
    func prepare(for account: ServerAccount) async throws {
        try await store.prepare()
        guard let local = store as? LocalStore else { return }
        for path in [local.root, local.path(Self.baseDirectory), local.path(WALArchive.directory)] {
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
        fromHost host: String, port: Int, node: String, using controller: PostgresController, staging: String,
        retention: Retention
    ) async throws -> (backup: BaseBackupRecord, pruned: (backups: [String], segments: [String])) {
        let record = try await take(fromHost: host, port: port, node: node, using: controller, staging: staging)
        return (record, try await prune(retention))
    }

    /// Takes a base backup of the server at `host:port` (tar format, WAL streamed alongside, so
    /// it is whole on its own) in the local directory `staging`, then stores its files and, last,
    /// its record: a backup is offered only once all of it is in the target.
    public func take(fromHost host: String, port: Int, node: String, using controller: PostgresController, staging: String) async throws
        -> BaseBackupRecord
    {
        try await prepare(for: controller.account)
        let startedAt = Date()
        let name = Self.name(startedAt)
        let partial = "\(staging)/\(name)"
        try Self.emptyStaging(staging, for: controller.account)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try await controller.baseBackup(fromHost: host, port: port, into: partial, format: .tar)
        // "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)"
        let label = try await controller.run("/bin/tar", ["-xOf", partial + "/base.tar", "backup_label"])
        guard let line = label.split(separator: "\n").first(where: { $0.hasPrefix("START WAL LOCATION") }),
            let file = line.split(separator: "(file ").last?.prefix(24)
        else {
            throw DatabaseError.commandFailed(program: "pg_basebackup", status: "left no backup_label", output: partial)
        }
        var files: [BaseBackupRecord.File] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: partial).sorted() {
            let path = "\(partial)/\(entry)"
            files.append(BaseBackupRecord.File(name: entry, sha256: try FilePieces.sha256(of: path)))
            try await store.upload("\(Self.baseDirectory)/\(name)/\(entry)", fromFile: path)
        }
        let record = BaseBackupRecord(name: name, node: node, startedAt: startedAt, finishedAt: Date(), startSegment: String(file), files: files)
        try await store.write("\(Self.baseDirectory)/\(name).json", Array(try JSONEncoder.zonal(pretty: true).encode(record)))
        return record
    }

    /// Deletes the base backups `retention` lets go and the archived WAL no kept backup needs.
    @discardableResult
    public func prune(_ retention: Retention, now: Date = Date()) async throws -> (backups: [String], segments: [String]) {
        let all = try await list()
        let expired = BackupRetention.expired(all, under: retention, now: now)
        for backup in expired {
            // The record goes first: a backup without one is no longer offered for restores.
            try await store.remove("\(Self.baseDirectory)/\(backup.name).json")
            try await store.removeAll(under: "\(Self.baseDirectory)/\(backup.name)")
        }
        let kept = all.filter { backup in !expired.contains(backup) }
        let segments = BackupRetention.prunableSegments(try await archive.segments(), keptBackups: kept)
        for segment in segments { try await archive.remove(segment) }
        return (expired.map(\.name), segments)
    }

    /// Fills the new, empty data directory of `controller` with base backup `backup`: its files
    /// fetched into `staging` and checked against their recorded SHA-256, then unpacked as the
    /// server's account. A backup taken before base backups were tar files is copied.
    func fetch(_ backup: BaseBackupRecord, using controller: PostgresController, staging: String) async throws {
        guard let files = backup.files else {
            guard let local = store as? LocalStore else {
                throw DatabaseError.backup("base backup \(backup.name) in \(store.location) lists no files")
            }
            return try await controller.copyBaseBackup(from: local.path("\(Self.baseDirectory)/\(backup.name)"))
        }
        let unknown = files.map(\.name).filter { !["base.tar", "pg_wal.tar", "backup_manifest"].contains($0) }
        guard unknown.isEmpty else {
            throw DatabaseError.backup(
                "base backup \(backup.name) holds tablespaces (\(unknown.joined(separator: ", "))), which zonal db restore does not unpack")
        }
        try Self.emptyStaging(staging, for: controller.account)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        for file in files {
            let path = "\(staging)/\(file.name)"
            try await store.download("\(Self.baseDirectory)/\(backup.name)/\(file.name)", toFile: path, owner: controller.account.fileOwner)
            let actual = try FilePieces.sha256(of: path)
            guard actual == file.sha256 else {
                throw DatabaseError.backup(
                    "\(file.name) of base backup \(backup.name) in \(store.location) is damaged: SHA-256 \(actual.prefix(16))… does not match the recorded \(file.sha256.prefix(16))…"
                )
            }
        }
        try await controller.unpackBaseBackup(base: "\(staging)/base.tar", wal: files.contains { $0.name == "pg_wal.tar" } ? "\(staging)/pg_wal.tar" : nil)
    }

    /// A base backup's name: its start time, UTC, sortable.
    static func name(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return formatter.string(from: date)
    }

    /// `staging` as an empty directory of the server's account: what a crash left there is gone.
    static func emptyStaging(_ staging: String, for account: ServerAccount) throws {
        try? FileManager.default.removeItem(atPath: staging)
        // Parents made with the default mode: the account reaches files beside the staging directory too.
        try FileManager.default.createDirectory(atPath: (staging as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try account.own(staging)
    }
}
