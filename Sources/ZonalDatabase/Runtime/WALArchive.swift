import Crypto
import Foundation
import ZonalBackup
import ZonalCore

/// The archived WAL of a cluster (`wal/` of its backup target, a directory or a bucket):
/// PostgreSQL's `archive_command` puts segments in with `zonal db archive-wal`, recovery takes
/// them out with `zonal db restore-wal`. Every segment is stored with its SHA-256 beside it, so a
/// damaged one is named, not replayed.
public struct WALArchive: Sendable {
    public let store: any RepositoryStore

    public init(store: any RepositoryStore) {
        self.store = store
    }

    static let directory = "wal"

    /// Stores the file at `source` as `name`. Archiving the same segment twice is fine; a
    /// different file under an existing name is refused (PostgreSQL's rule for archive commands).
    public func archive(source: String, name: String) async throws {
        // A missing archive directory is never made here: it may be a file system not mounted.
        if let local = store as? LocalStore, !FileManager.default.fileExists(atPath: local.path(Self.directory)) {
            throw DatabaseError.backup("the archive directory \(local.path(Self.directory)) is missing (is its file system mounted?)")
        }
        let data = try DurableFile.readAll(source)
        let digest = SHA256.hash(data: data).hex
        if try await store.exists(path(name)) {
            guard let existing = try? await store.read(path(name)), SHA256.hash(data: existing).hex == digest else {
                throw DatabaseError.commandFailed(program: "archive-wal", status: "refused", output: "\(name) is already archived with other contents")
            }
            return
        }
        // The checksum first: a segment is never visible without it.
        try await store.write(path(name) + ".sha256", Array(digest.utf8))
        try await store.write(path(name), data)
    }

    /// Copies segment `name` to `destination`, after checking it against its recorded SHA-256.
    /// Throws ``DatabaseError/corruptWAL(segment:reason:)`` for a damaged one; returns false when
    /// the archive has no such file (the normal end of recovery).
    public func restore(name: String, to destination: String) async throws -> Bool {
        guard try await store.exists(path(name)) else { return false }
        let data = try await verified(name)
        try Data(data).write(to: URL(fileURLWithPath: destination))
        return true
    }

    /// Checks every archived segment from `first` on (every timeline); throws for the first damaged one.
    public func verify(from first: String) async throws {
        guard let start = WALSegmentName(first) else { return }
        for name in try await segments() where WALSegmentName(name).map({ $0.number >= start.number }) ?? false {
            _ = try await verified(name)
        }
    }

    /// Names of the archived segments and history files, sorted.
    public func segments() async throws -> [String] {
        try await store.list(Self.directory).map(\.name).filter { !$0.hasSuffix(".sha256") }
    }

    public func remove(_ name: String) async throws {
        try await store.remove(path(name))
        try await store.remove(path(name) + ".sha256")
    }

    private func verified(_ name: String) async throws -> [UInt8] {
        let data = try await store.read(path(name))
        guard let recorded = try? await store.read(path(name) + ".sha256") else {
            throw DatabaseError.corruptWAL(segment: name, reason: "its checksum file \(name).sha256 is missing")
        }
        let expected = String(decoding: recorded, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let actual = SHA256.hash(data: data).hex
        guard expected == actual else {
            throw DatabaseError.corruptWAL(
                segment: name,
                reason:
                    "SHA-256 \(actual.prefix(16))… does not match the recorded \(expected.prefix(16))…; restore it from another copy or recover to an earlier time"
            )
        }
        return data
    }

    private func path(_ name: String) -> String { "\(Self.directory)/\(name)" }
}
