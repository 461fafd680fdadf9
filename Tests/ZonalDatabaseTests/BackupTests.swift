import Foundation
import Testing
import ZonalBackup
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
    func archive() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-wal")
        defer { directory.remove() }
        let archive = WALArchive(store: LocalStore(root: directory.path))
        await #expect(throws: DatabaseError.backup("the archive directory \(directory.file("wal")) is missing (is its file system mounted?)")) {
            try await archive.archive(source: "/dev/null", name: "000000010000000000000001")
        }
        try FileManager.default.createDirectory(atPath: directory.file("wal"), withIntermediateDirectories: true)
        var random = SeededRandom(seed: 7)
        let segment = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &random) })
        let source = try directory.write("segment", "")
        try segment.write(to: URL(fileURLWithPath: source))
        let name = "000000010000000000000003"
        try await archive.archive(source: source, name: name)
        try await archive.archive(source: source, name: name)  // PostgreSQL may retry; the same file is fine
        #expect(try await archive.segments() == [name])

        let restored = directory.file("restored")
        #expect(try await archive.restore(name: name, to: restored))
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored)) == segment)
        #expect(try await archive.restore(name: "000000010000000000000004", to: restored) == false)

        let other = try directory.write("other", "not the same segment")
        await #expect(throws: DatabaseError.self) { try await archive.archive(source: other, name: name) }

        var damaged = segment
        damaged[1000] ^= 0xFF
        let file = directory.file("wal/" + name)
        try FileManager.default.removeItem(atPath: file)
        try damaged.write(to: URL(fileURLWithPath: file))
        await #expect {
            try await archive.verify(from: "000000010000000000000001")
        } throws: { error in
            "\(error)".contains("archived WAL segment \(name) is corrupt: SHA-256")
        }
    }

    @Test("restore-wal ends recovery (exit 1) only for a segment the archive lacks; damage or a failed write stops it (exit 126)")
    func restoreCommandStatuses() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-wal-cli")
        defer { directory.remove() }
        let target = directory.file("target")
        let archive = target + "/wal"
        let source = try directory.write("segment", String(repeating: "wal record ", count: 1000))
        let name = "000000010000000000000003"
        let missingArchive = try await ZonalBinary.run(["db", "archive-wal", "--archive", target, source, name], directory: directory)
        #expect(missingArchive.status == 1 && missingArchive.output.contains("the archive directory \(archive) is missing"), "\(missingArchive.output)")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let archived = try await ZonalBinary.run(["db", "archive-wal", "--archive", target, source, name], directory: directory)
        #expect(archived.status == 0, "\(archived.output)")
        let restore = { (segment: String, destination: String) in
            try await ZonalBinary.run(["db", "restore-wal", "--archive", target, segment, destination], directory: directory)
        }
        #expect(try await restore(name, directory.file("RECOVERYXLOG")).status == 0)
        #expect(try String(contentsOfFile: directory.file("RECOVERYXLOG"), encoding: .utf8) == String(repeating: "wal record ", count: 1000))
        #expect(try await restore("000000010000000000000004", directory.file("RECOVERYXLOG")).status == 1)
        let unwritable = try await restore(name, directory.file("missing/RECOVERYXLOG"))
        #expect(unwritable.status == 126 && unwritable.output.contains("zonal db restore-wal:"), "\(unwritable.output)")
        try FileManager.default.removeItem(atPath: archive + "/" + name)
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: archive + "/" + name))
        let damaged = try await restore(name, directory.file("RECOVERYXLOG"))
        #expect(damaged.status == 126 && damaged.output.contains("\(name) is corrupt"), "\(damaged.output)")
        let refused = try await ZonalBinary.run(
            ["db", "archive-wal", "--archive", target, directory.file("absent"), "000000010000000000000005"], directory: directory)
        #expect(refused.status != 0)
        let unreadableKeys = try await ZonalBinary.run(
            ["db", "archive-wal", "--archive", "s3:http://127.0.0.1:9/b/p", "--credentials-file", directory.file("absent"), source, name], directory: directory)
        #expect(unreadableKeys.status != 0 && unreadableKeys.output.contains("absent"), "\(unreadableKeys.output)")
    }

    @Test("backup targets: a directory, s3: with a credentials file, store: through the front end of the node's own zone with the store's root key")
    func destinations() throws {
        let yaml = """
            name: t
            regions:
              - { name: east, zones: [east-a, east-b] }
            nodes:
              - { name: a1, zone: east-a, address: 127.0.0.1 }
              - { name: b1, zone: east-b, address: 127.0.0.2 }
            services:
              - { name: o, kind: object-store, zones: [east-a, east-b], port: 9100, admin_port: 9101, objects: { replicas: 2, write_quorum: 1 } }
              - { name: s3, kind: s3, zones: [east-a, east-b], port: 9200, s3: { store: o } }
              - name: db
                kind: postgres
                nodes: [a1, b1]
                port: 5432
                admin_port: 8008
                database: { backup: { target: "TARGET", interval: 1h } }
            """
        func destination(_ target: String, node: String = "b1") throws -> BackupDestination? {
            let topology = try TopologyLoader.parse(yaml.replacingOccurrences(of: "TARGET", with: target), file: "t.yaml")
            return try DatabaseNodePlan(topology: topology, service: "db", node: node, stateDirectory: "/state").backup
        }
        let store = try #require(try destination("store:o/backups/pg/{service}"))
        #expect(store.location == "s3:http://127.0.0.2:9200/backups/pg/db")
        #expect(store.credentials == .storeSecret(file: "/state/o/s3.secret", region: "east"))
        #expect(store.settings.interval == .seconds(3600))
        #expect(try destination("store:o/backups", node: "a1")?.location == "s3:http://127.0.0.1:9200/backups")
        let directory = try #require(try destination("/backups/{service}"))
        #expect(directory.location == "/backups/db" && directory.isDirectory)
        #expect(try destination("s3:https://s3.example.org/b/{service}")?.credentials == .environment)
        #expect(
            store.commandArguments(credentialsFile: "/state/db/b1/backup.credentials")
                == "--archive \"s3:http://127.0.0.2:9200/backups/pg/db\" --credentials-file \"/state/db/b1/backup.credentials\"")
        #expect(directory.commandArguments(credentialsFile: "unused") == "--archive \"/backups/db\"")

        for (target, fragment) in [
            ("store:nothing/backups", "not an object-store service"), ("store:o/B", "not a valid bucket name"), ("store:o", "needs a store and a bucket"),
            ("s3:ftp://host/b", "not an S3 location"),
        ] {
            #expect(throws: TopologyError.self, "\(target)") { try destination(target) }
            do { _ = try destination(target) } catch let error as TopologyError {
                #expect(error.problems.count == 1 && error.problems[0].message.contains(fragment) && error.problems[0].line == 15, "\(error.problems)")
            }
        }
    }

    @Test("a credentials file gives its AWS_* lines; one others can read, or a line of anything else, is refused")
    func credentialsFiles() throws {
        let directory = try TemporaryDirectory(prefix: "zonal-keys")
        defer { directory.remove() }
        let file = try directory.writePrivate("keys", "# keys of the backup bucket\nAWS_ACCESS_KEY_ID=id\n\nAWS_SECRET_ACCESS_KEY=se=cret\n")
        #expect(try S3Credentials.environment(file: file) == ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "se=cret"])
        let keys = S3Credentials(accessKeyID: "id", secretAccessKey: "s")
        let written = try directory.writePrivate("written", keys.environmentFileText(region: "east"))
        #expect(try S3Credentials.environment(file: written)["AWS_DEFAULT_REGION"] == "east")
        let open = try directory.write("open", "AWS_ACCESS_KEY_ID=id\n")
        #expect(throws: BackupError.self) { try S3Credentials.environment(file: open) }
        let wrong = try directory.writePrivate("wrong", "PATH=/tmp\n")
        #expect(throws: BackupError.invalid("\(wrong) line 1: expected AWS_NAME=value")) { try S3Credentials.environment(file: wrong) }
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
