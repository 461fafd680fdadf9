import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalDatabase

@Suite("Database backups: retention and the WAL archive")
struct BackupTests {
    func record(_ name: String, daysAgo: Double, segment: String, now: Date) -> BaseBackupRecord {
        let at = now.addingTimeInterval(-daysAgo * 86_400)
        return BaseBackupRecord(name: name, node: "a", startedAt: at, finishedAt: at, startSegment: segment)
    }

    @Test("retention keeps the newest N and everything younger than D days; WAL before the oldest kept backup goes")
    func retention() {
        let now = Date()
        let backups = [
            record("b1", daysAgo: 30, segment: "000000010000000000000002", now: now),
            record("b2", daysAgo: 20, segment: "000000010000000000000005", now: now),
            record("b3", daysAgo: 5, segment: "000000020000000000000009", now: now),
            record("b4", daysAgo: 1, segment: "00000002000000000000000C", now: now),
        ]
        #expect(BackupRetention.expired(backups, under: Retention(last: 2), now: now).map(\.name) == ["b1", "b2"])
        #expect(BackupRetention.expired(backups, under: Retention(last: 1, within: .seconds(25 * 86_400)), now: now).map(\.name) == ["b1"])
        #expect(BackupRetention.expired(backups, under: Retention(last: 10), now: now).isEmpty)
        let kept = Array(backups.suffix(2))
        let archived = ["000000010000000000000004", "000000010000000000000008", "000000020000000000000009", "00000002.history", "00000002000000000000000A"]
        #expect(BackupRetention.prunableSegments(archived, keptBackups: kept) == ["000000010000000000000004", "000000010000000000000008"])
    }

    @Test("archived segments come back byte-identical; a damaged one is named; a different file under an archived name is refused")
    func archive() throws {
        let directory = try TemporaryDirectory(prefix: "zonal-wal")
        defer { directory.remove() }
        let archive = WALArchive(directory: directory.file("wal"))
        try FileManager.default.createDirectory(atPath: archive.directory, withIntermediateDirectories: true)
        var random = SeededRandom(seed: 7)
        let segment = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &random) })
        let source = try directory.write("segment", "")
        try segment.write(to: URL(fileURLWithPath: source))
        let name = "000000010000000000000003"
        try archive.archive(source: source, name: name)
        try archive.archive(source: source, name: name)  // PostgreSQL may retry; the same file is fine
        #expect(try archive.segments() == [name])

        let restored = directory.file("restored")
        #expect(try archive.restore(name: name, to: restored))
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored)) == segment)
        #expect(try archive.restore(name: "000000010000000000000004", to: restored) == false)

        let other = try directory.write("other", "not the same segment")
        #expect(throws: DatabaseError.self) { try archive.archive(source: other, name: name) }

        var damaged = segment
        damaged[1000] ^= 0xFF
        try damaged.write(to: URL(fileURLWithPath: archive.directory + "/" + name))
        #expect {
            try archive.verify(from: "000000010000000000000001")
        } throws: { error in
            "\(error)".contains("archived WAL segment \(name) is corrupt: SHA-256")
        }
    }

    @Test("restore-wal ends recovery (exit 1) only for a segment the archive lacks; damage or a failed write stops it (exit 126)")
    func restoreCommandStatuses() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-wal-cli")
        defer { directory.remove() }
        let archive = directory.file("wal")
        let source = try directory.write("segment", String(repeating: "wal record ", count: 1000))
        let name = "000000010000000000000003"
        let missingArchive = try await ZonalBinary.run(["db", "archive-wal", "--to", archive, source, name], directory: directory)
        #expect(missingArchive.status == 1 && missingArchive.output.contains("cannot create \(archive)/"), "\(missingArchive.output)")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: false)
        let archived = try await ZonalBinary.run(["db", "archive-wal", "--to", archive, source, name], directory: directory)
        #expect(archived.status == 0, "\(archived.output)")
        let restore = { (segment: String, destination: String) in
            try await ZonalBinary.run(["db", "restore-wal", "--from", archive, segment, destination], directory: directory)
        }
        #expect(try await restore(name, directory.file("RECOVERYXLOG")).status == 0)
        #expect(try String(contentsOfFile: directory.file("RECOVERYXLOG"), encoding: .utf8) == String(repeating: "wal record ", count: 1000))
        #expect(try await restore("000000010000000000000004", directory.file("RECOVERYXLOG")).status == 1)
        let unwritable = try await restore(name, directory.file("missing/RECOVERYXLOG"))
        #expect(unwritable.status == 126 && unwritable.output.contains("zonal db restore-wal:"), "\(unwritable.output)")
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: archive + "/" + name))
        let damaged = try await restore(name, directory.file("RECOVERYXLOG"))
        #expect(damaged.status == 126 && damaged.output.contains("\(name) is corrupt"), "\(damaged.output)")
        let refused = try await ZonalBinary.run(
            ["db", "archive-wal", "--to", archive, directory.file("absent"), "000000010000000000000005"], directory: directory)
        #expect(refused.status != 0)
    }

    @Test("synchronous_standby_names round-trips, and strict mode with nobody to wait for blocks commits")
    func synchronousNames() {
        var configuration = ServerConfiguration(listenAddress: "127.0.0.1", port: 5432, synchronous: SynchronousSet(members: ["b", "a"]))
        #expect(configuration.synchronousStandbyNames == "ANY 1 (\"a\", \"b\")")
        #expect(ServerConfiguration.parseSynchronousStandbyNames(configuration.synchronousStandbyNames) == SynchronousSet(members: ["a", "b"]))
        configuration.synchronous = .empty
        #expect(configuration.synchronousStandbyNames == "")
        configuration.strictSynchronous = true
        #expect(configuration.synchronousStandbyNames == "ANY 1 (zonal_no_standby)")
        #expect(ServerConfiguration.parseSynchronousStandbyNames(configuration.synchronousStandbyNames) == .empty)
        #expect(LogSequenceNumber("16/B374D848")?.description == "16/B374D848")
        #expect(LogSequenceNumber("nonsense") == nil)
    }
}
