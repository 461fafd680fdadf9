import Crypto
import Foundation
import ZonalCore

/// The archived WAL of a cluster (`<backup directory>/wal`): PostgreSQL's `archive_command` puts
/// segments in with `zonal db archive-wal`, recovery takes them out with `zonal db restore-wal`.
/// Every segment is stored with its SHA-256 beside it, so a damaged one is named, not replayed.
public struct WALArchive: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Stores the file at `source` as `name`. Archiving the same segment twice is fine; a
    /// different file under an existing name is refused (PostgreSQL's rule for archive commands).
    public func archive(source: String, name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let digest = Self.digest(data)
        let target = path(name)
        if FileManager.default.fileExists(atPath: target) {
            guard let existing = try? Data(contentsOf: URL(fileURLWithPath: target)), Self.digest(existing) == digest else {
                throw DatabaseError.commandFailed(program: "archive-wal", status: "refused", output: "\(name) is already archived with other contents")
            }
            return
        }
        // The checksum first: a segment is never visible without it.
        try DurableFile.write(Data(digest.utf8), to: target + ".sha256")
        try DurableFile.write(data, to: target)
    }

    /// Copies segment `name` to `destination`, after checking it against its recorded SHA-256.
    /// Throws ``DatabaseError/corruptWAL(segment:reason:)`` for a damaged one; returns false when
    /// the archive has no such file (the normal end of recovery).
    public func restore(name: String, to destination: String) throws -> Bool {
        let source = path(name)
        guard FileManager.default.fileExists(atPath: source) else { return false }
        let data = try verified(name)
        try data.write(to: URL(fileURLWithPath: destination))
        return true
    }

    /// Checks every archived segment from `first` on (every timeline); throws for the first damaged one.
    public func verify(from first: String) throws {
        guard let start = WALSegmentName(first) else { return }
        for name in try segments() where WALSegmentName(name).map({ $0.number >= start.number }) ?? false {
            _ = try verified(name)
        }
    }

    /// Names of the archived segments and history files, sorted.
    public func segments() throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { !$0.hasSuffix(".sha256") && !DurableFile.isTemporary($0) }
            .sorted()
    }

    public func remove(_ name: String) throws {
        try FileManager.default.removeItem(atPath: path(name))
        try? FileManager.default.removeItem(atPath: path(name) + ".sha256")
    }

    private func verified(_ name: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        guard let recorded = try? String(contentsOfFile: path(name) + ".sha256", encoding: .utf8) else {
            throw DatabaseError.corruptWAL(segment: name, reason: "its checksum file \(name).sha256 is missing")
        }
        let actual = Self.digest(data)
        guard recorded.trimmingCharacters(in: .whitespacesAndNewlines) == actual else {
            throw DatabaseError.corruptWAL(
                segment: name,
                reason:
                    "SHA-256 \(actual.prefix(16))… does not match the recorded \(recorded.prefix(16))…; restore it from another copy or recover to an earlier time"
            )
        }
        return data
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    private static func digest(_ data: Data) -> String {
        SHA256.hash(data: data).hex
    }
}
