import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// The embedded coordinator's state on disk: kept across restarts, never silently lost.
@Suite("Embedded coordinator state on disk")
struct PersistenceTests {
    @Test("a restart keeps keys, revisions and leases; leases get their full TTL again")
    func restart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = VirtualClock()
        var revision: Int64 = 0
        let lease: Lease
        do {
            let coordinator = try EmbeddedCoordinator(directory: directory.path, clock: clock)
            try await coordinator.put("/a", "1")
            try await coordinator.put("/a", "2")
            lease = try await coordinator.grantLease(ttl: .seconds(10))
            try await coordinator.put("/leased", "x", lease: lease.id)
            _ = try await coordinator.transaction(
                Transaction(compares: [.absent("/b")], success: [.put(key: "/b", value: [7], lease: nil), .delete(key: "/a")]))
            revision = await coordinator.revision
        }
        clock.advance(by: .seconds(9))
        // What a checkpoint cut short by kill -9 leaves behind; the next start clears it.
        let torn = try directory.write(DurableFile.temporaryPrefix + "12345", "half a snapshot")
        let reopened = try EmbeddedCoordinator(directory: directory.path, clock: clock)
        #expect(!FileManager.default.fileExists(atPath: torn))
        #expect(await reopened.revision == revision)
        #expect(await reopened.get("/a") == nil)
        #expect(await reopened.get("/b")?.value == [7])
        #expect(await reopened.get("/leased")?.lease == lease.id)
        // 9 s of its 10 s TTL had passed before the restart; it starts over.
        #expect(await reopened.timeToLive(lease.id) == .seconds(10))
        // New writes continue the revision sequence.
        #expect(try await reopened.put("/c", "3") == revision + 1)
    }

    @Test("snapshots and journal together survive many changes and restarts")
    func checkpoints() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var expected: [String: String] = [:]
        for round in 0..<3 {
            let coordinator = try EmbeddedCoordinator(directory: directory.path, checkpointInterval: 50)
            for index in 0..<120 {
                let key = "/k\(index % 37)"
                try await coordinator.put(key, "\(round)-\(index)")
                expected[key] = "\(round)-\(index)"
            }
            if round == 1 { try await coordinator.compact(through: await coordinator.revision - 5) }
        }
        #expect(FileManager.default.fileExists(atPath: directory.file("snapshot")))
        let final = try EmbeddedCoordinator(directory: directory.path)
        let all = await final.range(prefix: "/")
        #expect(Dictionary(uniqueKeysWithValues: all.keyValues.map { ($0.key, $0.string) }) == expected)
        #expect(all.revision == 360)
    }

    @Test("a record cut short by a crash is dropped; everything acknowledged before it is kept")
    func tornTail() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let coordinator = try EmbeddedCoordinator(directory: directory.path)
            try await coordinator.put("/kept", "yes")
        }
        // A crash in the middle of appending: half a record at the end.
        let journal = directory.file("journal")
        let handle = try #require(FileHandle(forWritingAtPath: journal))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0x52, 0x4A, 0x43, 0x5A, 0xFF, 0x00]))
        try handle.close()
        let reopened = try EmbeddedCoordinator(directory: directory.path)
        #expect(await reopened.get("/kept")?.string == "yes")
        try await reopened.put("/after", "ok")
        let again = try EmbeddedCoordinator(directory: directory.path)
        #expect(await again.get("/after")?.string == "ok")
    }

    @Test("a damaged journal record stops the start with a clear error and the files untouched")
    func corruptJournal() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let coordinator = try EmbeddedCoordinator(directory: directory.path)
            for index in 0..<5 { try await coordinator.put("/k\(index)", String(repeating: "v", count: 40)) }
        }
        let journal = directory.file("journal")
        var bytes = try #require(FileManager.default.contents(atPath: journal))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: journal))
        do {
            _ = try EmbeddedCoordinator(directory: directory.path)
            Issue.record("a corrupt journal was accepted")
        } catch {
            guard case .corruptState(let path, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(path == journal)
            #expect(reason.contains("fails its checksum") || reason.contains("damaged header"), "\(reason)")
            #expect(error.description.contains("left untouched"))
        }
        #expect(FileManager.default.contents(atPath: journal) == bytes)
    }

    @Test("a damaged snapshot is refused, never read as an empty store")
    func corruptSnapshot() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.write("snapshot", "not a snapshot at all")
        #expect(throws: CoordinatorError.corruptState(path: directory.file("snapshot"), reason: "not a Zonal coordinator snapshot (bad header)")) {
            _ = try EmbeddedCoordinator(directory: directory.path)
        }
    }
}

@Suite("Coordinator errors")
struct CoordinatorErrorTests {
    @Test("an unreachable etcd gives a clear error naming the endpoints, quickly")
    func unreachable() async throws {
        let endpoint = "http://\(LoopbackAddress.random()):2379"
        let coordinator = try EtcdCoordinator(endpoints: [endpoint])
        let started = ContinuousClock.now
        do {
            _ = try await coordinator.get("/x")
            Issue.record("a call to nowhere succeeded")
        } catch {
            guard case .unreachable(let endpoints, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(endpoints == [endpoint])
            #expect(error.description.hasPrefix("no coordinator endpoint answers (\(endpoint))"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("malformed endpoints are refused before any connection", arguments: ["localhost:2379", "ftp://x:1", "http://nohost", ""])
    func badEndpoint(endpoint: String) {
        #expect(throws: CoordinatorError.self) { _ = try EtcdCoordinator(endpoints: endpoint.isEmpty ? [] : [endpoint]) }
    }

    @Test("an endpoint that is not etcd is reported as such")
    func notEtcd() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The supervisor-less `zonal app` is an HTTP server that is not a coordinator.
        let address = LoopbackAddress.random()
        let app = try ProcessFixture(
            executable: ZonalBinary.path, arguments: ["app", "--host", address, "--port", "2379"], outputPath: directory.file("app.log"))
        defer { app.signal(SIGKILL) }
        let coordinator = try EtcdCoordinator(endpoints: ["http://\(address):2379"])
        var lastError: CoordinatorError?
        await poll(timeout: .seconds(20)) {
            do throws(CoordinatorError) {
                _ = try await coordinator.get("/x")
                return true
            } catch {
                lastError = error
                if case .unreachable = error { return false }
                return true
            }
        }
        guard case .rejected(let message)? = lastError else {
            Issue.record("expected a refusal, got \(String(describing: lastError))")
            return
        }
        #expect(message.contains("/v3/kv/range answered 404"), "\(message)")
    }
}
