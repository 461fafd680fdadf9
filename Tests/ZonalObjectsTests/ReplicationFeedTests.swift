import Foundation
import GRDB
import Logging
import Testing
import ZonalTesting

@testable import ZonalObjects

/// What cross-region replication stands on: each storage node's change feed (every version in
/// commit order, numbers never reused, rows gone with their versions), the filter of a rule,
/// the backlog shared out over replicas, and the bookkeeping of the replicator.
@Suite("Replication feed and rules")
struct ReplicationFeedTests {
    static func id(_ micros: UInt64) -> String {
        VersionID.make(at: Date(timeIntervalSince1970: Double(micros) / 1_000_000), random: 7)
    }

    func marker(_ store: ReplicaStore, key: String, id: String) async throws {
        var version = ObjectVersion(bucket: "b", key: key, versionID: id, isDeleteMarker: true, lastModified: Date())
        version.versioned = true
        try await store.commit(upload: nil, version: version)
    }

    @Test("the feed lists each version once in commit order; a version recorded again keeps its place; one replaced or purged leaves it")
    func feed() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-feed")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        let tests = ReplicaStoreTests()
        let all = ChangeFilter(deletes: true)
        let first = try await tests.write(store, key: "a/1", [1, 2, 3], id: Self.id(3_000))
        _ = try await tests.write(store, key: "b/1", [4], id: Self.id(1_000))
        try await marker(store, key: "a/2", id: Self.id(2_000))
        var page = try await store.changes(bucket: "b", after: 0, filter: all, limit: 10)
        #expect(page.changes.map(\.version.key) == ["a/1", "b/1", "a/2"], "commit order, not version order")
        #expect(page.changes.map(\.seq) == page.changes.map(\.seq).sorted())
        try await store.commit(
            upload: nil,
            version: {
                var again = first
                again.size = 3
                return again
            }())
        let through = page.through
        #expect(try await store.changes(bucket: "b", after: through, filter: all, limit: 10).changes.isEmpty, "recording a version again adds nothing")

        // A null version replaced by a newer one leaves the feed; the newer one comes after.
        _ = try await tests.write(store, key: "a/1", [9], id: Self.id(4_000))
        page = try await store.changes(bucket: "b", after: 0, filter: all, limit: 10)
        #expect(page.changes.map(\.version.versionID) == [Self.id(1_000), Self.id(2_000), Self.id(4_000)])

        // A purge is a change of its own, after everything else.
        var purge = ObjectVersion(bucket: "b", key: "b/1", versionID: Self.id(1_000), lastModified: Date())
        purge.isPurged = true
        try await store.commit(upload: nil, version: purge)
        page = try await store.changes(bucket: "b", after: page.through, filter: all, limit: 10)
        #expect(page.changes.count == 1 && page.changes[0].version.isPurged == true && page.changes[0].version.key == "b/1")

        // Reads in small pages see everything once, and the filter is the rule's.
        var seen: [String] = []
        var cursor: Int64 = 0
        while true {
            let next = try await store.changes(bucket: "b", after: cursor, filter: all, limit: 1)
            if next.through == cursor { break }
            seen += next.changes.map(\.version.versionID)
            cursor = next.through
        }
        #expect(seen == [Self.id(2_000), Self.id(4_000), Self.id(1_000)])
        let objectsUnderA = try await store.changes(bucket: "b", after: 0, filter: ChangeFilter(prefix: "a/"), limit: 10)
        #expect(objectsUnderA.changes.map(\.version.key) == ["a/1"], "no delete markers or purges without deletes, no other prefix")
        let recent = try await store.changes(bucket: "b", after: 0, filter: ChangeFilter(since: Self.id(3_500), deletes: true), limit: 10)
        #expect(recent.changes.map(\.version.versionID) == [Self.id(4_000)], "versions before `since` are not taken")

        let backlog = try await store.backlog(bucket: "b", after: 0, filter: ChangeFilter())
        #expect(backlog == Backlog(objects: 1, bytes: 1, oldestVersionID: Self.id(4_000)))
        #expect(try await store.backlog(bucket: "b", after: cursor, filter: all).objects == 0)
        #expect(try await store.backlog(bucket: "other", after: 0, filter: all).objects == 0)
    }

    @Test("an index made before the feed gets a row for every version it holds when opened")
    func feedOfAnOlderIndex() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-feed")
        defer { directory.remove() }
        do {
            let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
            _ = try await ReplicaStoreTests().write(store, key: "k", [1, 2], id: Self.id(5))
        }
        let database = try DatabaseQueue(path: "\(directory.path)/index.sqlite")
        try await database.write { db in try db.execute(sql: "DROP TABLE changes") }
        try database.close()
        let reopened = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        #expect(try await reopened.changes(bucket: "b", after: 0, filter: ChangeFilter(), limit: 5).changes.map(\.version.key) == ["k"])
    }

    @Test("a rule selects by prefix, time and kind; a change of what it selects or where it sends starts it over")
    func rules() {
        let created = Date(timeIntervalSince1970: 1_000)
        let rule = ReplicationRule(
            name: "to-west", bucket: "photos", prefix: "2026/", deletes: false, existing: false, destination: .init(bucket: "photos", store: "west"),
            created: created)
        #expect(rule.problem == nil)
        let old = ObjectVersion(
            bucket: "photos", key: "2026/a", versionID: VersionID.make(at: Date(timeIntervalSince1970: 999), random: 1), lastModified: created)
        var new = old
        new.versionID = VersionID.make(at: Date(timeIntervalSince1970: 1_001), random: 1)
        var marker = new
        marker.isDeleteMarker = true
        var elsewhere = new
        elsewhere.key = "2025/a"
        #expect(!rule.filter.matches(old) && rule.filter.matches(new) && !rule.filter.matches(marker) && !rule.filter.matches(elsewhere))
        var everything = rule
        everything.existing = true
        everything.deletes = true
        #expect(everything.filter.matches(old) && everything.filter.matches(marker))

        var deletesToo = rule
        deletesToo.deletes = true
        deletesToo.created = Date()
        #expect(rule.updated(to: deletesToo).generation == 1 && rule.updated(to: deletesToo).created == created)
        var otherPrefix = rule
        otherPrefix.prefix = "2027/"
        #expect(rule.updated(to: otherPrefix).generation == 2)

        for bad in ["", "a b", String(repeating: "x", count: 65), "über", "a/b"] {
            var named = rule
            named.name = bad
            #expect(named.problem != nil, "\(bad)")
        }
        var both = rule
        both.destination.endpoint = "http://127.0.0.1:9000"
        #expect(both.problem != nil)
        var badBucket = rule
        badBucket.destination.bucket = "Bad_Bucket"
        #expect(badBucket.problem != nil)
        let endpoint = ReplicationRule.Destination(bucket: "copy", endpoint: "ftp://x", region: "r", accessKeyID: "k", sealedSecret: "s")
        var toFTP = rule
        toFTP.destination = endpoint
        #expect(toFTP.problem != nil)
    }

    @Test("the backlog of a store: a version counted on each of its replicas counts once; with a node away, at least what the others hold")
    func combinedBacklog() {
        let a = Backlog(objects: 10, bytes: 100, oldestVersionID: Self.id(5))
        let b = Backlog(objects: 10, bytes: 100, oldestVersionID: Self.id(3))
        let c = Backlog(objects: 9, bytes: 90, oldestVersionID: nil)
        #expect(Backlog.combined([a, b, c], replicas: 3) == Backlog(objects: 10, bytes: 100, oldestVersionID: Self.id(3)))
        #expect(Backlog.combined([a, b], replicas: 3).objects == 10)
        let spread = (0..<6).map { _ in Backlog(objects: 5, bytes: 50) }
        #expect(Backlog.combined(spread, replicas: 3) == Backlog(objects: 10, bytes: 100), "six nodes, three replicas each")
        #expect(Backlog.combined([], replicas: 3) == Backlog())
    }

    @Test("feeds of several nodes merge into each version once, oldest first, a purge winning over the version it removes")
    func mergedFeeds() {
        func change(_ seq: Int64, _ key: String, _ micros: UInt64, purged: Bool = false) -> ChangePage.Change {
            var version = ObjectVersion(bucket: "b", key: key, versionID: Self.id(micros), lastModified: Date())
            if purged { version.isPurged = true }
            return .init(seq: seq, version: version)
        }
        let merged = RuleReplicator.merged([
            [change(1, "x", 30), change(2, "y", 10)], [change(7, "y", 10), change(8, "x", 30, purged: true), change(9, "z", 20)],
        ])
        #expect(merged.map(\.key) == ["y", "z", "x"])
        #expect(merged.last?.isPurged == true)
    }

    @Test("recent ids forget the oldest first; throughput is bytes over the last seconds")
    func bookkeeping() {
        var recent = RecentIDs(capacity: 3)
        for id in ["a", "b", "c", "a", "d"] { recent.insert(id) }
        #expect(!recent.contains("a") && recent.contains("b") && recent.contains("d") && recent.count == 3)
        var window = ThroughputWindow(seconds: 10)
        window.add(1_000, at: 100)
        window.add(1_000, at: 105)
        #expect(window.rate(at: 105) == 200)
        #expect(window.rate(at: 112) == 100, "the first second has left the window")
        #expect(window.rate(at: 500) == 0)
        window.add(50, at: 499)
        #expect(window.rate(at: 500) == 5)
    }

    @Test("a version id tells its time; anything else tells none")
    func versionTimes() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let seconds = VersionID.date(of: VersionID.make(at: date, random: 1))?.timeIntervalSince1970 ?? 0
        #expect(abs(seconds - date.timeIntervalSince1970) < 0.000_01)
        #expect(VersionID.date(of: "null") == nil && VersionID.date(of: String(repeating: "g", count: 32)) == nil)
    }

    @Test("the status table names the replicator, each rule's backlog and oldest pending, and its last error; or says that none replicates")
    func statusTable() {
        let rule = ReplicationRule(
            name: "to-west", bucket: "photos", prefix: "", deletes: true, existing: false, destination: .init(bucket: "photos", store: "west"),
            created: Date())
        var status = ReplicationStatus.Rule(rule)
        status.pendingObjects = 12
        status.pendingBytes = 3 << 20
        status.oldestPendingSeconds = 4.5
        status.nodes = 3
        status.nodesAnswering = 2
        status.lastError = "no front end of the destination answered"
        status.lastErrorAt = Date(timeIntervalSince1970: 0)
        let text = ReplicationStatusTable(reports: [
            ReplicationStatus(node: "n1", active: false, rules: []), ReplicationStatus(node: "n2", active: true, rules: [status]),
        ]).render()
        #expect(text.contains("replicator: n2") && text.contains("to-west") && text.contains("west/photos") && text.contains("4.5s"), "\(text)")
        #expect(text.contains("2/3") && text.contains("12") && text.contains("last error at 1970-01-01T00:00:00Z: no front end"), "\(text)")
        var hostile = status
        hostile.oldestPendingSeconds = 1e300
        #expect(!ReplicationStatusTable(reports: [ReplicationStatus(node: "n2", active: true, rules: [hostile])]).render().isEmpty)
        #expect(ReplicationStatusTable(reports: [ReplicationStatus(node: "n1", active: false, rules: [])]).render().contains("no front end replicates"))
    }
}
