import Foundation
import GRDB
import ZonalCore

/// A storage node's index of the replicas it holds, in SQLite (WAL, `synchronous=FULL`, so a
/// committed row survives a crash): one row per object version with its record, its file and
/// the digests of its blocks, and one per version deleted for good (so a replica that missed
/// that delete cannot bring it back). Keys are stored as BLOBs, so SQLite orders them by their
/// UTF-8 bytes, as S3 lists them. A third table numbers what each commit added (``changes``):
/// the feed cross-region replication reads from where it left off.
final class ReplicaIndex: Sendable {
    /// A row: the version, where its bytes are and the digests that check them.
    struct Entry: Sendable {
        var version: ObjectVersion
        /// File name under the node's `objects/` directory; nil for a delete marker.
        var file: String?
        var blockDigests: [UInt8]
    }

    private let database: DatabasePool

    init(path: String) throws(ObjectsError) {
        do {
            database = try DatabasePool(path: path)
            // The pool sets `synchronous = NORMAL` on its writer when it turns WAL on, after any
            // preparation of ours: a commit would then reach the disk only at the next
            // checkpoint. FULL syncs the WAL at every commit, so a committed row survives a
            // power loss, not only a crash of the process.
            try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try database.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS versions (
                            bucket TEXT NOT NULL, key BLOB NOT NULL, version_id TEXT NOT NULL,
                            record BLOB NOT NULL, file TEXT, blocks BLOB NOT NULL,
                            PRIMARY KEY (bucket, key, version_id)
                        ) WITHOUT ROWID
                        """)
                // Indexes made before versioning have no `versioned` column: every row in them
                // is a null version, which the default says.
                if try !db.columns(in: "versions").contains(where: { $0.name == "versioned" }) {
                    try db.execute(sql: "ALTER TABLE versions ADD COLUMN versioned INTEGER NOT NULL DEFAULT 0")
                }
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS purged (
                            bucket TEXT NOT NULL, key BLOB NOT NULL, version_id TEXT NOT NULL,
                            PRIMARY KEY (bucket, key, version_id)
                        ) WITHOUT ROWID
                        """)
                try Self.createChanges(db)
            }
        } catch {
            throw .storage("cannot open the replica index \(path): \(error)")
        }
    }

    /// Records `entries` in one transaction (one WAL sync for all of them), each as
    /// ``record(_:in:)`` says, each in a savepoint of its own: one that fails leaves the others.
    /// For each, the files no row names any more, or why it was not recorded.
    func commit(_ entries: [Entry]) async -> [Result<[String], ObjectsError>] {
        do {
            return try await database.write { db in
                entries.map { entry in
                    var files: [String] = []
                    do {
                        try db.inSavepoint {
                            files = try Self.record(entry, in: db)
                            return .commit
                        }
                        return .success(files)
                    } catch {
                        return .failure(Self.failure(error, recording: entry.version))
                    }
                }
            }
        } catch {
            return entries.map { .failure(Self.failure(error, recording: $0.version)) }
        }
    }

    private static func failure(_ error: any Error, recording version: ObjectVersion) -> ObjectsError {
        if let error = error as? ObjectsError { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_FULL {
            return .diskFull("cannot record \(version.bucket)/\(version.key) in the index: the disk is full")
        }
        return .storage("cannot record \(version.bucket)/\(version.key) in the index: \(error)")
    }

    /// Records `entry` and drops what it supersedes; returns the files no row names any more.
    /// A null version replaces the key's older null versions (a bucket without versioning keeps
    /// one version per key; a late replica of an overwritten version is dropped at once); a
    /// versioned one replaces nothing. A purge record removes its version and is kept instead;
    /// a version purged before is not recorded again.
    private static func record(_ entry: Entry, in db: Database) throws -> [String] {
        let version = entry.version
        let record = try encode(version)
        let key = Data(version.key.utf8)
        let identity: StatementArguments = [version.bucket, key, version.versionID]
        if version.isPurged == true {
            let newlyPurged = try Bool.fetchOne(db, sql: "SELECT 1 FROM purged WHERE bucket = ? AND key = ? AND version_id = ?", arguments: identity) == nil
            try db.execute(sql: "INSERT OR IGNORE INTO purged (bucket, key, version_id) VALUES (?, ?, ?)", arguments: identity)
            let files = try removeRows(db, where: "bucket = ? AND key = ? AND version_id = ?", identity, bucket: version.bucket)
            if newlyPurged { try noteChange(version, kind: .purge, in: db) }
            return files
        }
        let purged = try Bool.fetchOne(db, sql: "SELECT 1 FROM purged WHERE bucket = ? AND key = ? AND version_id = ?", arguments: identity) ?? false
        if purged { return entry.file.map { [$0] } ?? [] }
        try noteChange(version, kind: version.isDeleteMarker ? .deleteMarker : .object, in: db)
        try db.execute(
            sql: "INSERT OR REPLACE INTO versions (bucket, key, version_id, record, file, blocks, versioned) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [version.bucket, key, version.versionID, record, entry.file, Data(entry.blockDigests), version.versioned == true])
        guard version.versioned != true else { return [] }
        let newestNull = try String.fetchOne(
            db, sql: "SELECT MAX(version_id) FROM versions WHERE bucket = ? AND key = ? AND versioned = 0", arguments: [version.bucket, key])
        return try removeRows(
            db, where: "bucket = ? AND key = ? AND versioned = 0 AND version_id < ?", [version.bucket, key, newestNull], bucket: version.bucket)
    }

    /// What a row of the change feed stands for.
    enum ChangeKind: Int {
        case object = 0
        case deleteMarker = 1
        case purge = 2
    }

    /// The change feed: one row per version (and purge record) of a bucket, numbered in commit
    /// order by `seq` (AUTOINCREMENT: a number is never reused, so a reader that saw up to `n`
    /// has seen every row at or below it). A version recorded again keeps its number; a row goes
    /// when its version does. Indexes made before the feed get a row for each version they hold.
    private static func createChanges(_ db: Database) throws {
        guard try !db.tableExists("changes") else { return }
        try db.execute(
            sql: """
                CREATE TABLE changes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key BLOB NOT NULL, version_id TEXT NOT NULL,
                    kind INTEGER NOT NULL, size INTEGER NOT NULL, UNIQUE (bucket, key, version_id)
                );
                CREATE INDEX changes_by_bucket ON changes (bucket, seq);
                """)
        let rows = try Row.fetchCursor(db, sql: "SELECT record FROM versions ORDER BY version_id")
        while let row = try rows.next() {
            guard let version = try? decode(row["record"]) else { continue }
            try noteChange(version, kind: version.isDeleteMarker ? .deleteMarker : .object, in: db)
        }
    }

    private static func noteChange(_ version: ObjectVersion, kind: ChangeKind, in db: Database) throws {
        guard !ObjectVersion.isUploadsNamespace(version.bucket) else { return }
        try db.execute(
            sql: "INSERT OR IGNORE INTO changes (bucket, key, version_id, kind, size) VALUES (?, ?, ?, ?, ?)",
            arguments: [version.bucket, Data(version.key.utf8), version.versionID, kind.rawValue, kind == .object ? version.size : 0])
    }

    /// Deletes the version rows `condition` selects in `bucket`, with the part replicas of the
    /// composite ones; returns their files.
    private static func removeRows(_ db: Database, where condition: String, _ arguments: StatementArguments, bucket: String) throws -> [String] {
        let rows = try Row.fetchAll(db, sql: "SELECT key, version_id, file, record FROM versions WHERE \(condition)", arguments: arguments)
        try db.execute(sql: "DELETE FROM versions WHERE \(condition)", arguments: arguments)
        var files = rows.compactMap { $0["file"] as String? }
        for row in rows {
            try db.execute(
                sql: "DELETE FROM changes WHERE bucket = ? AND key = ? AND version_id = ?",
                arguments: [bucket, row["key"] as Data, row["version_id"] as String])
        }
        for row in rows {
            guard let parts = (try? decode(row["record"]))?.parts else { continue }
            files += try removeParts(parts, of: bucket, in: db)
        }
        return files
    }

    /// The newest version of `key` (a delete marker included), its null version (`versionID`
    /// ``VersionID/null``), or the one named `versionID` — as a purge record when that version
    /// was deleted for good.
    func entry(bucket: String, key: String, versionID: String? = nil) async throws(ObjectsError) -> Entry? {
        let columns = "SELECT record, file, blocks FROM versions WHERE bucket = ? AND key = ?"
        do {
            let (row, purged) = try await database.read { db -> (StoredRow?, Bool) in
                let arguments: StatementArguments = [bucket, Data(key.utf8)]
                switch versionID {
                case nil:
                    return (try Row.fetchOne(db, sql: "\(columns) ORDER BY version_id DESC LIMIT 1", arguments: arguments).map(StoredRow.init), false)
                case VersionID.null:
                    let found = try Row.fetchOne(db, sql: "\(columns) AND versioned = 0 ORDER BY version_id DESC LIMIT 1", arguments: arguments)
                    return (found.map(StoredRow.init), false)
                case let versionID?:
                    if let found = try Row.fetchOne(db, sql: "\(columns) AND version_id = ?", arguments: arguments + [versionID]) {
                        return (StoredRow(found), false)
                    }
                    let purged = try Bool.fetchOne(
                        db, sql: "SELECT 1 FROM purged WHERE bucket = ? AND key = ? AND version_id = ?", arguments: arguments + [versionID])
                    return (nil, purged ?? false)
                }
            }
            if purged, let versionID {
                var record = ObjectVersion(bucket: bucket, key: key, versionID: versionID, lastModified: Date(timeIntervalSince1970: 0))
                record.isPurged = true
                return Entry(version: record, file: nil, blockDigests: [])
            }
            return try row.map { row throws(ObjectsError) in try row.entry() }
        } catch let error as ObjectsError {
            throw error
        } catch {
            throw .storage("cannot read the index: \(error)")
        }
    }

    /// A row as read, handed out of the database's queue.
    private struct StoredRow: Sendable {
        var record: Data
        var file: String?
        var blocks: Data

        init(_ row: Row) {
            record = row["record"]
            file = row["file"]
            blocks = row["blocks"]
        }

        func entry() throws(ObjectsError) -> Entry {
            Entry(version: try ReplicaIndex.decode(record), file: file, blockDigests: Array(blocks))
        }
    }

    /// The newest version of each key after `after` starting with `prefix`, in key order, at
    /// most `limit`; and whether more follow.
    func list(bucket: String, prefix: [UInt8], after: [UInt8], limit: Int) async throws(ObjectsError) -> (versions: [ObjectVersion], truncated: Bool) {
        let end = Self.prefixEnd(prefix)
        let start = after.lexicographicallyPrecedes(prefix) ? prefix : after
        let inclusive = after.lexicographicallyPrecedes(prefix)
        return try await page(
            sql: """
                SELECT v.record FROM versions v
                WHERE v.bucket = ? AND (v.key > ? OR (? AND v.key = ?)) AND (? IS NULL OR v.key < ?)
                AND v.version_id = (SELECT MAX(w.version_id) FROM versions w WHERE w.bucket = v.bucket AND w.key = v.key)
                ORDER BY v.key LIMIT ?
                """,
            arguments: [bucket, Data(start), inclusive, Data(start), end.map { Data($0) }, end.map { Data($0) }, limit + 1], limit: limit)
    }

    /// Every version (delete markers included) of the keys starting with `prefix`, keys
    /// ascending and each key's versions newest first, after `after` (its key and, when given,
    /// its version: then the key's older versions follow), at most `limit`; and whether more
    /// follow.
    func versions(bucket: String, prefix: [UInt8], after: ListingMerge.Position?, limit: Int) async throws(ObjectsError) -> (
        versions: [ObjectVersion], truncated: Bool
    ) {
        let end = Self.prefixEnd(prefix).map { Data($0) }
        let afterKey = Data(after?.key ?? [])
        let afterVersion = after?.versionID
        return try await page(
            sql: """
                SELECT record FROM versions
                WHERE bucket = ? AND key >= ? AND (? IS NULL OR key < ?)
                AND (? = 0 OR key > ? OR (key = ? AND ? IS NOT NULL AND version_id < ?))
                ORDER BY key, version_id DESC LIMIT ?
                """,
            arguments: [bucket, Data(prefix), end, end, after != nil, afterKey, afterKey, afterVersion, afterVersion, limit + 1], limit: limit)
    }

    /// The records `sql` selects (asking for `limit + 1`): the first `limit`, and whether more
    /// follow.
    private func page(sql: String, arguments: StatementArguments, limit: Int) async throws(ObjectsError) -> (versions: [ObjectVersion], truncated: Bool) {
        do {
            let records = try await database.read { db -> [Data] in try Row.fetchAll(db, sql: sql, arguments: arguments).map { $0["record"] } }
            let versions = try records.prefix(limit).map { record throws(ObjectsError) in try Self.decode(record) }
            return (versions, records.count > limit)
        } catch let error as ObjectsError {
            throw error
        } catch {
            throw .storage("cannot list the index: \(error)")
        }
    }

    /// Where a walk over every row stands: the last row it saw, in (bucket, key, version) order.
    struct Position: Sendable, Hashable {
        var bucket: String
        var key: [UInt8]
        var versionID: String
    }

    /// Up to `limit` rows after `position` (from the first when nil), in (bucket, key, version)
    /// order: a walk that sees each row once however many rows are added behind or ahead of it.
    func entries(after position: Position?, limit: Int) async throws(ObjectsError) -> [Entry] {
        let start = position ?? Position(bucket: "", key: [], versionID: "")
        do {
            let rows = try await database.read { db -> [StoredRow] in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT record, file, blocks FROM versions
                        WHERE (bucket, key, version_id) > (?, ?, ?)
                        ORDER BY bucket, key, version_id LIMIT ?
                        """,
                    arguments: [start.bucket, Data(start.key), start.versionID, limit]
                ).map(StoredRow.init)
            }
            return try rows.map { row throws(ObjectsError) in try row.entry() }
        } catch let error as ObjectsError {
            throw error
        } catch {
            throw .storage("cannot read the index: \(error)")
        }
    }

    /// Up to `limit` rows of `bucket`'s change feed after `seq` that `filter` selects, each with
    /// its version (a purge record for a purge), and the number the next read starts after:
    /// the last row examined, so rows the filter skips are not read again.
    func changes(bucket: String, after seq: Int64, filter: ChangeFilter, limit: Int) async throws(ObjectsError) -> ChangePage {
        let (condition, arguments) = filter.sql(bucket: bucket, after: seq)
        do {
            return try await database.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT c.seq, c.key, c.version_id, c.kind, v.record FROM changes c
                        LEFT JOIN versions v ON v.bucket = c.bucket AND v.key = c.key AND v.version_id = c.version_id
                        WHERE \(condition) ORDER BY c.seq LIMIT ?
                        """, arguments: arguments + [limit])
                var versions: [ChangePage.Change] = []
                for row in rows {
                    let seq: Int64 = row["seq"]
                    if let record: Data = row["record"], let version = try? Self.decode(record) {
                        versions.append(.init(seq: seq, version: version))
                    } else if (row["kind"] as Int) == ChangeKind.purge.rawValue, let key = String(validating: [UInt8](row["key"] as Data), as: UTF8.self) {
                        var record = ObjectVersion(bucket: bucket, key: key, versionID: row["version_id"], lastModified: Date(timeIntervalSince1970: 0))
                        record.isPurged = true
                        versions.append(.init(seq: seq, version: record))
                    }
                }
                let through: Int64
                if rows.count == limit, let last = rows.last {
                    through = last["seq"]
                } else {
                    through = max(seq, try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM changes") ?? 0)
                }
                return ChangePage(changes: versions, through: through)
            }
        } catch {
            throw .storage("cannot read the change feed: \(error)")
        }
    }

    /// How much of `bucket`'s change feed after `seq` `filter` selects: rows, bytes and the
    /// oldest version id among them.
    func backlog(bucket: String, after seq: Int64, filter: ChangeFilter) async throws(ObjectsError) -> Backlog {
        let (condition, arguments) = filter.sql(bucket: bucket, after: seq)
        do {
            return try await database.read { db in
                let row = try Row.fetchOne(
                    db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes, MIN(version_id) AS oldest FROM changes c WHERE \(condition)",
                    arguments: arguments)
                return Backlog(objects: row?["n"] ?? 0, bytes: row?["bytes"] ?? 0, oldestVersionID: row?["oldest"])
            }
        } catch {
            throw .storage("cannot read the change feed: \(error)")
        }
    }

    /// Replaces the record of a version this index holds (its tags changed).
    func retag(_ version: ObjectVersion) async throws(ObjectsError) {
        let record = try Self.encode(version)
        let changed: Int
        do {
            changed = try await database.write { db in
                try db.execute(
                    sql: "UPDATE versions SET record = ? WHERE bucket = ? AND key = ? AND version_id = ? AND file IS NOT NULL",
                    arguments: [record, version.bucket, Data(version.key.utf8), version.versionID])
                return db.changesCount
            }
        } catch {
            throw .storage("cannot update the index: \(error)")
        }
        guard changed == 1 else { throw .notFound("this node holds no version \(version.versionID) of \(version.bucket)/\(version.key)") }
    }

    /// Forgets `versionID` of `key` (a replica found corrupt); returns its file.
    func remove(bucket: String, key: String, versionID: String) async throws(ObjectsError) -> String? {
        do {
            return try await database.write { db in
                let file = try String.fetchOne(
                    db, sql: "SELECT file FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", arguments: [bucket, Data(key.utf8), versionID])
                try db.execute(sql: "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", arguments: [bucket, Data(key.utf8), versionID])
                try db.execute(sql: "DELETE FROM changes WHERE bucket = ? AND key = ? AND version_id = ?", arguments: [bucket, Data(key.utf8), versionID])
                return file
            }
        } catch {
            throw .storage("cannot update the index: \(error)")
        }
    }

    /// Forgets every version of every key starting with `prefix` (an aborted upload's parts).
    func removeKeys(bucket: String, prefix: [UInt8]) async throws(ObjectsError) -> [String] {
        let end = Self.prefixEnd(prefix).map { Data($0) }
        do {
            return try await database.write { db in
                let condition = "bucket = ? AND key >= ? AND (? IS NULL OR key < ?)"
                let arguments: StatementArguments = [bucket, Data(prefix), end, end]
                let files = try String?.fetchAll(db, sql: "SELECT file FROM versions WHERE \(condition)", arguments: arguments).compactMap { $0 }
                try db.execute(sql: "DELETE FROM versions WHERE \(condition)", arguments: arguments)
                try db.execute(sql: "DELETE FROM changes WHERE \(condition)", arguments: arguments)
                return files
            }
        } catch {
            throw .storage("cannot update the index: \(error)")
        }
    }

    /// Removes the part replicas a superseded composite version referred to; returns their files.
    private static func removeParts(_ parts: [PartReference], of bucket: String, in db: Database) throws -> [String] {
        let namespace = ObjectVersion.uploadsNamespace(of: bucket)
        var files: [String] = []
        for part in parts {
            let arguments: StatementArguments = [namespace, Data(part.key.utf8), part.versionID]
            if let file = try String.fetchOne(db, sql: "SELECT file FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", arguments: arguments) {
                files.append(file)
            }
            try db.execute(sql: "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?", arguments: arguments)
        }
        return files
    }

    /// Forgets every version in `bucket` (the bucket was deleted); returns their files.
    func removeBucket(_ bucket: String) async throws(ObjectsError) -> [String] {
        do {
            return try await database.write { db in
                let files = try String?.fetchAll(db, sql: "SELECT file FROM versions WHERE bucket = ?", arguments: [bucket]).compactMap { $0 }
                try db.execute(sql: "DELETE FROM versions WHERE bucket = ?", arguments: [bucket])
                try db.execute(sql: "DELETE FROM purged WHERE bucket = ?", arguments: [bucket])
                try db.execute(sql: "DELETE FROM changes WHERE bucket = ?", arguments: [bucket])
                return files
            }
        } catch {
            throw .storage("cannot update the index: \(error)")
        }
    }

    /// The writer's `PRAGMA synchronous` (2 is FULL): checked by the tests, since the pool once
    /// set it lower behind our back.
    func synchronousMode() async throws -> Int {
        try await database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Every file the index names, for removing the orphans a crash left.
    func files() async throws(ObjectsError) -> Set<String> {
        do {
            return Set(try await database.read { db in try String?.fetchAll(db, sql: "SELECT file FROM versions").compactMap { $0 } })
        } catch {
            throw .storage("cannot read the index: \(error)")
        }
    }

    private static func encode(_ version: ObjectVersion) throws(ObjectsError) -> Data {
        do { return try JSONEncoder.zonal().encode(version) } catch { throw .storage("cannot encode a version record: \(error)") }
    }

    private static func decode(_ data: Data) throws(ObjectsError) -> ObjectVersion {
        do { return try JSONDecoder.zonal().decode(ObjectVersion.self, from: data) } catch {
            throw .corrupt("a version record in the index cannot be read: \(error)")
        }
    }

    /// The smallest key greater than every key starting with `prefix`; nil for no bound.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return nil
    }
}

extension ChangeFilter {
    /// The WHERE clause over `changes c` that selects this filter's rows of `bucket` after `seq`.
    func sql(bucket: String, after seq: Int64) -> (String, StatementArguments) {
        let end = ReplicaIndex.prefixEnd(Array(prefix.utf8)).map { Data($0) }
        return (
            "c.bucket = ? AND c.seq > ? AND c.key >= ? AND (? IS NULL OR c.key < ?) AND c.version_id >= ? AND (? OR c.kind = 0)",
            [bucket, seq, Data(prefix.utf8), end, end, since ?? "", deletes]
        )
    }
}
