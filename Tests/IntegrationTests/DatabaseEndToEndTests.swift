import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// Real PostgreSQL servers run by real agents: failover after kill -9, rejoin, switchover,
/// fencing of a partitioned primary, and the clear refusals of bad data directories.
@Suite("Database HA end to end", .serialized)
struct DatabaseEndToEndTests {
    @Test("kill -9 of the primary: the standby takes over with every row, the old primary rejoins, a switchover hands back")
    func failoverRejoinSwitchover() async throws {
        let cluster = try await DatabaseCluster(nodes: ["a1", "b1"])
        defer { Task { await cluster.stop() } }
        let first = try #require(await cluster.waitForPrimary(), "no primary came up")
        let second = first == "a1" ? "b1" : "a1"
        #expect(await cluster.waitForReplica(second))
        #expect(await cluster.sql(first, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)") != nil)
        #expect(await poll(timeout: .seconds(10)) { await cluster.sql(second, "SELECT count(*) FROM t") == "1" } != nil)

        let killedAt = ContinuousClock.now
        cluster.kill9(first)
        let successor = await cluster.waitForPrimary(among: [second], timeout: .seconds(30))
        let recovery = ContinuousClock.now - killedAt
        #expect(successor == second, "no failover: \(cluster.agentOutput(second).suffix(2000))")
        #expect(recovery < .seconds(10), "failover took \(recovery)")
        #expect(await cluster.sql(second, "SELECT count(*) FROM t") == "1")
        #expect(await cluster.sql(second, "INSERT INTO t VALUES (2)") != nil)

        try cluster.startAgent(first)
        #expect(await cluster.waitForReplica(first), "the old primary did not rejoin: \(cluster.agentOutput(first).suffix(3000))")
        #expect(await poll(timeout: .seconds(10)) { await cluster.sql(first, "SELECT count(*) FROM t") == "2" } != nil)
        #expect(await cluster.sql(first, "INSERT INTO t VALUES (99)") == nil, "a standby accepted a write")

        let switchover = try await ZonalBinary.run(
            ["db", "switchover", "--topology", cluster.file, "--token-file", cluster.tokenFile, "--state-dir", cluster.directory.file("state"), "--to", first],
            directory: cluster.directory)
        #expect(switchover.status == 0, "\(switchover.output)")
        #expect(await cluster.waitForPrimary(among: [first], timeout: .seconds(15)) == first)
        #expect(await cluster.sql(first, "INSERT INTO t VALUES (3)") != nil)
        #expect(await cluster.waitForReplica(second), "the old primary did not follow after the switchover: \(cluster.agentOutput(second).suffix(3000))")
        #expect(await poll(timeout: .seconds(10)) { await cluster.sql(second, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t") == "1,2,3" } != nil)

        let status = try await ZonalBinary.run(
            ["db", "status", "--topology", cluster.file, "--token-file", cluster.tokenFile, "--state-dir", cluster.directory.file("state")],
            directory: cluster.directory)
        #expect(status.output.contains("failover \(first) → \(second)"), "\(status.output)")
        #expect(status.output.contains("switchover \(second) → \(first)"), "\(status.output)")
    }

    @Test("basic: one node; after kill -9 its restarted agent takes back its leader key and recovers the server with every row")
    func basicRestart() async throws {
        let cluster = try await DatabaseCluster(nodes: ["a1"], edition: "basic")
        defer { Task { await cluster.stop() } }
        #expect(await cluster.waitForPrimary() == "a1")
        #expect(await cluster.sql("a1", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)") != nil)
        // No login over TCP without the cluster's password, for any user; the password and
        // the password files are the owner's alone.
        let refused = await cluster.psql("a1", "SELECT 1", passfile: "/dev/null")
        #expect(refused.status == 2 && refused.output.contains("no password supplied"), "\(refused)")
        let wrong = try cluster.directory.writePrivate("wrong-pgpass", "*:*:*:postgres:guess\n")
        let guessed = await cluster.psql("a1", "SELECT 1", passfile: wrong)
        #expect(guessed.status == 2 && guessed.output.contains("password authentication failed"), "\(guessed)")
        for file in ["state/db/postgres.password", "state/db/pgpass", "state/db/a1/pgpass"] {
            let mode = try FileManager.default.attributesOfItem(atPath: cluster.directory.file(file))[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file) has mode \(String(mode ?? 0, radix: 8))")
        }
        #expect(await cluster.api("a1", "/status") == 401, "the agent's status wants the admin token")
        #expect(await cluster.apiJSON("a1", "/status") != nil, "and answers with it")
        let hba = try String(contentsOfFile: cluster.directory.file("state/db/a1/data/pg_hba.conf"), encoding: .utf8)
        #expect(!hba.contains("trust") && hba.contains("host replication all 0.0.0.0/0 scram-sha-256"), "\(hba)")
        cluster.kill9("a1")
        let restartedAt = ContinuousClock.now
        try cluster.startAgent("a1")
        #expect(await cluster.waitForPrimary(timeout: .seconds(30)) == "a1")
        #expect(ContinuousClock.now - restartedAt < .seconds(15))
        #expect(await cluster.sql("a1", "SELECT count(*) FROM t") == "1")
        #expect(cluster.agentOutput("a1").contains("took over the leader key held by this node's previous run"))
    }

    @Test("a primary cut from the coordinator stops taking writes before the standby is promoted; it rejoins when the link returns")
    func partitionedPrimaryFences() async throws {
        let cluster = try await DatabaseCluster(nodes: ["a1", "b1"], relayed: true)
        defer { Task { await cluster.stop() } }
        let first = try #require(await cluster.waitForPrimary())
        let second = first == "a1" ? "b1" : "a1"
        #expect(await cluster.waitForReplica(second))
        #expect(await cluster.sql(first, "CREATE TABLE t (id int)") != nil)

        let cutAt = ContinuousClock.now
        cluster.relays[first]!.cut()
        // The old primary refuses writes (its server is stopped) …
        let fenced = await poll(timeout: .seconds(10)) { await cluster.sql(first, "INSERT INTO t VALUES (1)") == nil }
        #expect(fenced != nil, "the partitioned primary still takes writes")
        let fencedAfter = ContinuousClock.now - cutAt
        // … before the standby can be promoted (lease TTL 3 s from the last renewal).
        let promoted = await cluster.waitForPrimary(among: [second], timeout: .seconds(20))
        #expect(promoted == second)
        #expect(fencedAfter < .seconds(3), "fenced only after \(fencedAfter)")
        #expect(cluster.agentOutput(first).contains("fencing: stopping PostgreSQL at once"))

        cluster.relays[first]!.restore()
        #expect(await cluster.waitForReplica(first), "the fenced primary did not rejoin: \(cluster.agentOutput(first).suffix(3000))")
    }

    @Test("synchronous mode: across 20 seeded kill points of the primary no acknowledged commit is lost")
    func synchronousKillPoints() async throws {
        let cluster = try await DatabaseCluster(nodes: ["a1", "b1"], settings: "synchronous_mode: on")
        defer { Task { await cluster.stop() } }
        var primary = try #require(await cluster.waitForPrimary())
        #expect(await cluster.sql(primary, "CREATE TABLE t (id int PRIMARY KEY)") != nil)
        var random = SeededRandom(seed: 20_261_126)
        let acknowledged = AcknowledgedIDs()
        for round in 0..<20 {
            let standby = primary == "a1" ? "b1" : "a1"
            let protected = await poll(timeout: .seconds(60)) { await cluster.synchronousStandbys(of: primary).contains(standby) }
            try #require(protected != nil, "round \(round): \(standby) never became a synchronous standby of \(primary)")
            let target = primary
            let writer = Task { await acknowledged.write(to: target, in: cluster) }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 20...600, using: &random)))
            cluster.kill9(primary)
            writer.cancel()
            await writer.value
            let promoted = await cluster.waitForPrimary(among: [standby], timeout: .seconds(30))
            try #require(promoted == standby, "round \(round): no failover to \(standby)")
            let present = Set((await cluster.sql(standby, "SELECT id FROM t") ?? "").split(separator: "\n").compactMap { Int($0) })
            let lost = acknowledged.all.filter { !present.contains($0) }
            #expect(lost.isEmpty, "round \(round): acknowledged ids missing on \(standby): \(lost.prefix(10))")
            try cluster.startAgent(primary)
            primary = standby
        }
        #expect(acknowledged.all.count > 20, "too few writes to mean anything: \(acknowledged.all.count)")
    }

    @Test("enterprise: quorum commit over two synchronous standbys; kill -9 of the primary loses no acknowledged write, the third node follows the new primary")
    func enterprise() async throws {
        let cluster = try await DatabaseCluster(nodes: ["a1", "b1", "c1"], edition: "enterprise")
        defer { Task { await cluster.stop() } }
        let primary = try #require(await cluster.waitForPrimary())
        let standbys = ["a1", "b1", "c1"].filter { $0 != primary }
        let quorum = await poll(timeout: .seconds(60)) { await cluster.synchronousStandbys(of: primary).sorted() == standbys }
        try #require(quorum != nil, "the standbys never became synchronous")
        #expect(await cluster.sql(primary, "CREATE TABLE t (id int PRIMARY KEY)") != nil)
        let acknowledged = AcknowledgedIDs()
        let writer = Task { await acknowledged.write(to: primary, in: cluster) }
        try await Task.sleep(for: .seconds(1))
        cluster.kill9(primary)
        writer.cancel()
        await writer.value

        let successor = try #require(await cluster.waitForPrimary(among: standbys, timeout: .seconds(30)), "no failover")
        let present = Set((await cluster.sql(successor, "SELECT id FROM t") ?? "").split(separator: "\n").compactMap { Int($0) })
        #expect(acknowledged.all.allSatisfy(present.contains), "acknowledged ids lost: \(acknowledged.all.filter { !present.contains($0) }.prefix(10))")
        #expect(acknowledged.all.count > 5)
        // Strict quorum commit: a write on the new primary completes once the third node streams from it.
        let third = standbys.first { $0 != successor }!
        #expect(await cluster.waitForReplica(third), "\(third) did not follow \(successor): \(cluster.agentOutput(third).suffix(2000))")
        #expect(await cluster.sql(successor, "INSERT INTO t VALUES (-1)") != nil)
    }

    /// Where a point-in-time recovery test keeps its backups: the topology's `backup` settings,
    /// the names of the base backups there, and a way to damage an archived segment.
    struct BackupPlace: Sendable {
        var settings: String
        var baseBackups: @Sendable () async -> [String]
        var damage: @Sendable (_ segment: String) async throws -> Void
        /// Copies the backups elsewhere and returns that copy's target; nil: not tried here.
        var copy: @Sendable () async throws -> String? = { nil }
        var stop: @Sendable () async -> Void = {}
    }

    @Test("point-in-time recovery from a directory rebuilds the cluster between two transactions; a damaged archived segment is named and nothing is restored")
    func pointInTimeRecovery() async throws {
        let backups = try TemporaryDirectory(prefix: "zonal-db-backups")
        let copies = try TemporaryDirectory(prefix: "zonal-db-backups-copy")
        defer {
            backups.remove()
            copies.remove()
        }
        let place = BackupPlace(
            settings: "backup: { target: \(backups.path) }",
            baseBackups: { ((try? FileManager.default.contentsOfDirectory(atPath: backups.file("base"))) ?? []).filter { $0.hasSuffix(".json") }.sorted() },
            damage: { segment in
                let handle = try FileHandle(forUpdating: URL(fileURLWithPath: backups.file("wal/\(segment)")))
                try handle.seek(toOffset: 4096)
                try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
                try handle.close()
            },
            copy: {
                // Copied as root without keeping owners: refused with the fix, then fixed.
                let copy = copies.file("copy")
                try FileManager.default.copyItem(atPath: backups.path, toPath: copy)
                return copy
            })
        try await pointInTimeRecovery(place)
    }

    @Test("point-in-time recovery from a three-zone Zonal object store: WAL archived and base backups stored through S3, a damaged segment there is named")
    func pointInTimeRecoveryFromObjectStorage() async throws {
        let objects = try await ObjectStoreCluster()
        let keys = try await objects.credentials()
        let text = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map { "\($0)=\(keys[$0] ?? "")" }.joined(separator: "\n") + "\nAWS_DEFAULT_REGION=east\n"
        let credentials = try objects.directory.writePrivate("db-backup.credentials", text)
        let listing = { @Sendable () async -> [String] in
            let listed = try? await objects.aws("n1", ["s3", "ls", "s3://db-backups/pitr/db/base/"])
            return (listed?.output ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }.filter { $0.hasSuffix(".json") }
                .sorted()
        }
        let place = BackupPlace(
            settings: "backup: { target: \"s3:\(objects.endpoint("n1"))/db-backups/pitr/{service}\", credentials_file: \(credentials) }",
            baseBackups: listing,
            damage: { segment in
                let local = objects.directory.file("segment")
                #expect(try await objects.aws("n1", ["s3", "cp", "s3://db-backups/pitr/db/wal/\(segment)", local]).status == 0)
                let handle = try FileHandle(forUpdating: URL(fileURLWithPath: local))
                try handle.seek(toOffset: 4096)
                try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
                try handle.close()
                #expect(try await objects.aws("n1", ["s3", "cp", local, "s3://db-backups/pitr/db/wal/\(segment)"]).status == 0)
            },
            stop: { await objects.stop() })
        try await pointInTimeRecovery(place)
    }

    func pointInTimeRecovery(_ place: BackupPlace) async throws {
        defer { Task { await place.stop() } }
        let cluster = try await DatabaseCluster(nodes: ["a1", "b1"], settings: place.settings)
        defer { Task { await cluster.stop() } }
        let primary = try #require(await cluster.waitForPrimary())
        // With no base backup yet, the primary's agent takes one on its own at once.
        var taken: [String] = []
        let scheduled = await poll(timeout: .seconds(60)) {
            taken = await place.baseBackups()
            return taken.count == 1 && cluster.agentOutput(primary).contains("base backup \(taken[0].dropLast(".json".count)) taken")
        }
        #expect(scheduled != nil, "the primary took no scheduled base backup: \(taken) \(cluster.agentOutput(primary).suffix(2000))")
        let backup = try await ZonalBinary.run(
            ["db", "backup", "--topology", cluster.file, "--token-file", cluster.tokenFile, "--state-dir", cluster.directory.file("state")],
            directory: cluster.directory)
        #expect(backup.status == 0, "\(backup.output)")
        let both = await place.baseBackups()
        #expect(both.count == 2, "\(both)")

        #expect(await cluster.sql(primary, "CREATE TABLE t (v text); INSERT INTO t VALUES ('first')") != nil)
        try await Task.sleep(for: .milliseconds(500))
        let target = try #require(await cluster.sql(primary, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(await cluster.sql(primary, "INSERT INTO t VALUES ('second')") != nil)
        let segment = try #require(await cluster.sql(primary, "SELECT pg_walfile_name(pg_current_wal_lsn())"))
        #expect(await cluster.sql(primary, "SELECT pg_switch_wal()") != nil)
        let archived = await poll(timeout: .seconds(30)) {
            (await cluster.sql(primary, "SELECT coalesce(last_archived_wal, '') >= '\(segment)' FROM pg_stat_archiver")) == "t"
        }
        let archiver = await cluster.sql(primary, "SELECT * FROM pg_stat_archiver") ?? ""
        try #require(archived != nil, "segment \(segment) was not archived: \(archiver)")

        let into = cluster.directory.file("restored")
        let port = Int.random(in: 20_000...30_000)
        let restore = { (into: String, extra: [String]) in
            try await ZonalBinary.run(
                [
                    "db", "restore", "--topology", cluster.file, "--token-file", cluster.tokenFile, "--state-dir", cluster.directory.file("state"),
                    "--to-time", target, "--into", into, "--port", "\(port)",
                ] + extra,
                directory: cluster.directory)
        }
        let restored = try await restore(into, [])
        #expect(restored.status == 0, "\(restored.output)")
        let server = RestoredServer(directory: into, port: port, scratch: cluster.directory)
        #expect(await server.start(), "the restored instance does not start")
        #expect(await server.query("SELECT string_agg(v, ',') FROM t") == "first")
        await server.stop()
        #expect(!FileManager.default.fileExists(atPath: into + ".backup.credentials"), "the restore leaves no keys behind")
        if let copy = try await place.copy() {
            // The target lost, its copy elsewhere: the same moment comes back from the copy.
            let fromCopy = cluster.directory.file("restored-from-copy")
            var restoredFromCopy = try await restore(fromCopy, ["--from", copy])
            if place.settings.contains("target: /") {
                #expect(
                    restoredFromCopy.status != 0 && restoredFromCopy.output.contains("cannot be read by postgres"), "\(restoredFromCopy.output)")
                for entry in [""] + (FileManager.default.subpaths(atPath: copy) ?? []) {
                    try FileManager.default.setAttributes([.ownerAccountID: postgresUID], ofItemAtPath: "\(copy)/\(entry)")
                }
                try? FileManager.default.removeItem(atPath: fromCopy)
                restoredFromCopy = try await restore(fromCopy, ["--from", copy])
            }
            #expect(restoredFromCopy.status == 0, "\(restoredFromCopy.output)")
            let copyServer = RestoredServer(directory: fromCopy, port: port, scratch: cluster.directory)
            #expect(await copyServer.start(), "the instance restored from the copy does not start")
            #expect(await copyServer.query("SELECT string_agg(v, ',') FROM t") == "first")
            await copyServer.stop()
        }

        // Damage the segment the restore needs: the restore names it and builds nothing.
        try await place.damage(segment)
        let second = cluster.directory.file("restored-again")
        let refused = try await restore(second, [])
        #expect(refused.status != 0)
        #expect(refused.output.contains("archived WAL segment \(segment) is corrupt: SHA-256"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: second))
    }

    @Test("bad data directories and a missing PostgreSQL are refused with a clear error, and nothing in them changes")
    func badInput() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-db-bad")
        defer { directory.remove() }
        func topology(_ extra: String) throws -> String {
            try directory.write(
                "t-\(UUID().uuidString.prefix(4)).yaml",
                """
                name: bad
                coordinator: { backend: embedded, host: \(LoopbackAddress.random()), port: 7379 }
                regions: [{ name: r, zones: [z1, z2] }]
                nodes:
                  - { name: n1, zone: z1, address: \(LoopbackAddress.random()) }
                  - { name: n2, zone: z2, address: \(LoopbackAddress.random()) }
                services:
                  - { name: db, kind: postgres, nodes: [n1, n2], port: 5432, admin_port: 8008, database: { \(extra) } }
                """)
        }
        // A data directory of another PostgreSQL version.
        let old = directory.file("old")
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        _ = try directory.write("old/PG_VERSION", "14\n")
        try FileManager.default.setAttributes([.ownerAccountID: postgresUID], ofItemAtPath: old)
        var result = try await ZonalBinary.run(["db", "agent", "--topology", try topology("data_directory: \(old)"), "--node", "n1"], directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("was created by PostgreSQL 14; these binaries are PostgreSQL 15"), "\(result.output)")
        #expect(try String(contentsOfFile: old + "/PG_VERSION", encoding: .utf8) == "14\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: old) == ["PG_VERSION"])

        // A data directory owned by someone else.
        let foreign = directory.file("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        _ = try directory.write("foreign/PG_VERSION", "15\n")
        result = try await ZonalBinary.run(["db", "agent", "--topology", try topology("data_directory: \(foreign)"), "--node", "n1"], directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("belongs to uid 0, but PostgreSQL runs as uid \(postgresUID)"), "\(result.output)")

        // Not a data directory at all.
        let other = directory.file("other")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        _ = try directory.write("other/notes.txt", "mine")
        result = try await ZonalBinary.run(["db", "agent", "--topology", try topology("data_directory: \(other)"), "--node", "n1"], directory: directory)
        #expect(result.output.contains("is not a PostgreSQL data directory"), "\(result.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["notes.txt"])

        // No PostgreSQL where the topology says.
        result = try await ZonalBinary.run(
            ["db", "agent", "--topology", try topology("bin_directory: /nonexistent/bin"), "--node", "n1"], directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("PostgreSQL's postgres is not in /nonexistent/bin; install the postgresql package"), "\(result.output)")
    }

    private var postgresUID: UInt32 { getpwnam("postgres").map { $0.pointee.pw_uid } ?? 0 }
}

/// The ids a writer was told were committed.
final class AcknowledgedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [Int] = []
    private var next = 1

    var all: [Int] { lock.withLock { ids } }

    /// Inserts increasing ids on `node` one by one until cancelled; keeps those acknowledged.
    func write(to node: String, in cluster: DatabaseCluster) async {
        while !Task.isCancelled {
            let id = lock.withLock { () -> Int in
                next += 1
                return next
            }
            if await cluster.sql(node, "INSERT INTO t VALUES (\(id))") != nil {
                lock.withLock { ids.append(id) }
            }
        }
    }
}

/// A restored data directory started on its own for a test, as the `postgres` user.
final class RestoredServer: @unchecked Sendable {
    let directory: String
    let port: Int
    let scratch: TemporaryDirectory
    private var server: ProcessFixture?

    init(directory: String, port: Int, scratch: TemporaryDirectory) {
        self.directory = directory
        self.port = port
        self.scratch = scratch
    }

    /// Starts the server and waits until it answers.
    func start() async -> Bool {
        server = try? ProcessFixture(
            executable: "/usr/bin/setpriv",
            arguments: [
                "--reuid=postgres", "--regid=postgres", "--init-groups", "--", "/usr/lib/postgresql/15/bin/postgres", "-D", directory,
                "-p", "\(port)", "-c", "listen_addresses=127.0.0.1", "-c", "archive_mode=off",
            ], outputPath: scratch.file("restored-server.out"))
        return await poll(timeout: .seconds(60)) { await self.query("SELECT 1") == "1" } != nil
    }

    /// A fast shutdown (SIGINT), waited for.
    func stop() async {
        server?.signal(SIGINT)
        _ = await server?.waitForExit(timeout: .seconds(30))
    }

    func query(_ sql: String) async -> String? {
        guard
            let fixture = try? ProcessFixture(
                executable: "/usr/bin/psql",
                arguments: [
                    "-w", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "postgres", "-Atc", sql,
                ], outputPath: scratch.file("restored-psql.out"), environment: ["PGCONNECT_TIMEOUT": "2", "PGPASSFILE": scratch.file("state/db/pgpass")])
        else { return nil }
        guard await fixture.waitForExit(timeout: .seconds(20)) == 0 else { return nil }
        return fixture.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
