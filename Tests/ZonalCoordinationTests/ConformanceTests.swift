import Foundation
import Logging
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// One suite, every backend: the same semantics in process, over loopback, and on real etcd.
@Suite("Coordinator conformance")
struct ConformanceTests {
    let logger = Logger(label: "test.conformance")

    func prefix() -> String { "/test/\(UUID().uuidString.prefix(8))/" }

    @Test("keys carry etcd's revisions; range is in key order; delete reports existence", arguments: Backend.allCases)
    func keyValues(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let p = prefix()
            let first = try await c.put(p + "b", "1")
            let second = try await c.put(p + "b", "2")
            #expect(second > first)
            let b = try #require(try await c.get(p + "b"))
            #expect(b.string == "2" && b.createRevision == first && b.modRevision == second && b.version == 2)
            try await c.put(p + "a", "x")
            try await c.put(p + "c", "")
            let all = try await c.range(prefix: p)
            #expect(all.keyValues.map(\.key) == [p + "a", p + "b", p + "c"])
            #expect(all.keyValues.last?.value == [])
            #expect(all.revision >= second)
            #expect(try await c.delete(p + "a"))
            #expect(try await !c.delete(p + "a"))
            #expect(try await c.get(p + "a") == nil)
            #expect(try await c.get(p + "zzz") == nil)
        }
    }

    @Test("compare-and-swap: of two writers with the same expected revision exactly one wins", arguments: Backend.allCases)
    func compareAndSwap(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let key = prefix() + "cas"
            #expect(try await c.compareAndSwap(key, expectedRevision: 0, value: Array("created".utf8)) != nil)
            #expect(try await c.compareAndSwap(key, expectedRevision: 0, value: Array("again".utf8)) == nil)
            let current = try #require(try await c.get(key))
            async let one = c.compareAndSwap(key, expectedRevision: current.modRevision, value: Array("one".utf8))
            async let two = c.compareAndSwap(key, expectedRevision: current.modRevision, value: Array("two".utf8))
            let results = [try await one, try await two]
            #expect(results.compactMap { $0 }.count == 1, "\(results)")
            let winner = try #require(try await c.get(key))
            #expect(["one", "two"].contains(winner.string))
            let transaction = try await c.transaction(Transaction(compares: [.unchanged(key, since: 1)], success: [], failure: [.get(key: key)]))
            #expect(!transaction.succeeded && transaction.gets.first??.string == winner.string)
        }
    }

    @Test("an expired lease removes its keys; a revoked one too; renewing it then fails", arguments: Backend.allCases)
    func leaseExpiry(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let p = prefix()
            let lease = try await c.grantLease(ttl: .seconds(2))
            try await c.put(p + "ephemeral", "x", lease: lease.id)
            try await c.put(p + "durable", "y")
            let expired = await poll(timeout: .seconds(8)) { (try? await c.get(p + "ephemeral")) == nil }
            #expect(expired != nil)
            #expect(try await c.get(p + "durable") != nil)
            #expect(try await c.timeToLive(lease.id) == nil)
            await #expect(throws: CoordinatorError.leaseNotFound(lease.id)) { try await c.renewLease(lease.id) }

            let revoked = try await c.grantLease(ttl: .seconds(30))
            try await c.put(p + "revoked", "z", lease: revoked.id)
            try await c.revokeLease(revoked.id)
            #expect(try await c.get(p + "revoked") == nil)
        }
    }

    @Test("keep-alive keeps a lease's keys past its TTL; stopping it lets them go", arguments: Backend.allCases)
    func keepAlive(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let key = prefix() + "kept"
            let requested = SystemClock().now
            let lease = try await c.grantLease(ttl: .seconds(5))
            try await c.put(key, "alive", lease: lease.id)
            // Renewing every 0.5 s leaves 4.5 s for a renewal to be late: the test shares two cores
            // with etcd clusters, proxies and `zonal up` under load (CI lost a 3 s lease), and a
            // lease lost to that says nothing here.
            let keeper = LeaseKeeper(
                coordinator: c, lease: lease, grantRequestedAt: requested, clock: SystemClock(),
                interval: .milliseconds(500), logger: logger)
            let renewing = Task { await keeper.run() }
            // Two TTLs pass; the key must survive both.
            try await Task.sleep(for: .seconds(10))
            #expect(try await c.get(key)?.string == "alive")
            #expect(keeper.isValid(at: SystemClock().now))
            renewing.cancel()
            let gone = await poll(timeout: .seconds(12)) { (try? await c.get(key)) == nil }
            #expect(gone != nil)
        }
    }

    @Test("a watch delivers every change in order, across forced reconnects, without gaps or repeats", arguments: Backend.allCases)
    func watchAcrossReconnects(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let p = prefix()
            let start = try await c.put(p + "start", "0")
            let received = EventLog()
            let watching = Task {
                for try await event in c.resumingWatch(
                    prefix: p, fromRevision: start + 1, backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(50)))
                {
                    received.append(event)
                }
            }
            var expected: [String] = []
            for index in 0..<60 {
                if index % 10 == 9 {
                    // Two changes at one revision, so that resuming inside a revision is exercised.
                    let keys = [p + "pair-\(index)-a", p + "pair-\(index)-b"]
                    _ = try await c.transaction(Transaction(compares: [], success: keys.map { .put(key: $0, value: [1], lease: nil) }))
                    expected += keys
                } else {
                    try await c.put(p + "k\(index)", "\(index)")
                    expected.append(p + "k\(index)")
                }
                if index == 20 || index == 45 { await fixture.forceReconnect() }
            }
            try await c.delete(p + "k0")
            expected.append(p + "k0")
            let complete = await poll(timeout: .seconds(15)) { received.all.count >= expected.count }
            watching.cancel()
            let events = received.all
            #expect(complete != nil, "received \(events.count) of \(expected.count)")
            #expect(events.map(\.keyValue.key) == expected)
            #expect(events.last?.kind == .delete)
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.revision <= $1.revision })
        }
    }

    @Test("a prefix follower gets one full reading, then every change, and reads afresh after a lost watch", arguments: Backend.allCases)
    func prefixFollower(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let p = prefix()
            try await c.put(p + "a", "1")
            let seen = FollowerLog()
            let follower = PrefixFollower(coordinator: c, prefix: p, backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(50)))
            let following = Task {
                await follower.run(
                    onReading: { reading in seen.reading(reading.keyValues.map(\.key)) },
                    onEvent: { event in
                        seen.event(event.keyValue.key)
                        if event.keyValue.key == p + "fail" { throw CoordinatorError.rejected("a handler that fails") }
                    },
                    onError: { _, pause in seen.failed(pause) })
            }
            defer { following.cancel() }
            #expect(await poll(timeout: .seconds(5)) { seen.readings.count == 1 } != nil)
            try await c.put(p + "b", "2")
            await fixture.forceReconnect()
            try await c.put(p + "c", "3")
            #expect(await poll(timeout: .seconds(10)) { seen.events.contains(p + "c") } != nil, "events: \(seen.events)")
            #expect(seen.events.prefix(2) == [p + "b", p + "c"], "a resumed watch loses nothing: \(seen.events)")
            // A failing handler starts again with a fresh read that holds everything so far.
            try await c.put(p + "fail", "x")
            #expect(await poll(timeout: .seconds(10)) { seen.readings.count == 2 } != nil)
            #expect(seen.readings.last == [p + "a", p + "b", p + "c", p + "fail"])
            #expect(seen.pauses.first.map { $0 <= .milliseconds(20) } == true, "\(seen.pauses)")
        }
    }

    @Test("a node's published role reads back, follows changes, and goes with its agent's lease", arguments: Backend.allCases)
    func serviceRoles(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let directory = ServiceRoleDirectory(coordinator: c, service: "db\(UUID().uuidString.prefix(6))")
            let a = try await c.grantLease(ttl: .seconds(30))
            let b = try await c.grantLease(ttl: .seconds(30))
            try await directory.publish(.primary, node: "a", lease: a.id)
            try await directory.publish(.replica, node: "b", lease: b.id)
            try await c.put(directory.prefix + "c", "leader")
            var (roles, unreadable) = directory.roles(in: try await c.range(prefix: directory.prefix))
            #expect(roles.byNode == ["a": .primary, "b": .replica] && unreadable == [directory.prefix + "c"])
            let start = try await c.range(prefix: directory.prefix).revision
            try await c.revokeLease(a.id)
            try await directory.publish(nil, node: "b", lease: b.id)
            for try await event in c.resumingWatch(prefix: directory.prefix, fromRevision: start + 1) {
                _ = directory.apply(event, to: &roles)
                if event.keyValue.key.hasSuffix("/b") { break }
            }
            #expect(roles.byNode.isEmpty, "\(roles)")
        }
    }

    @Test("watching compacted history is refused with the compaction revision", arguments: Backend.allCases)
    func compaction(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let c = fixture.coordinator
            let p = prefix()
            let first = try await c.put(p + "1", "a")
            try await c.put(p + "2", "b")
            let third = try await c.put(p + "3", "c")
            try await c.compact(through: third)
            do {
                for try await _ in c.resumingWatch(prefix: p, fromRevision: first) {
                    Issue.record("an event from compacted history")
                }
                Issue.record("the watch ended without reporting compaction")
            } catch let error as CoordinatorError {
                guard case .compacted(let requested, let through) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(requested == first && through >= third - 1)
            }
        }
    }

    @Test("election: a leader that stops renewing is replaced within one TTL, never overlapping", .timeLimit(.minutes(1)), arguments: Backend.allCases)
    func electionHandover(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let name = prefix() + "election"
            // Frequent renewals: only the partition below, never a late renewal under load, ends the first term.
            let settings = LeaderElection.Settings(ttl: .seconds(3), renewInterval: .milliseconds(500))
            let cut = PartitionableCoordinator(fixture.coordinator)
            let first = try await LeaderElection(coordinator: cut, name: name, settings: settings, logger: logger).campaign(value: "first")
            let second = Task {
                try await LeaderElection(coordinator: fixture.coordinator, name: name, settings: settings, logger: logger).campaign(value: "second")
            }
            let observer = LeaderElection(coordinator: fixture.coordinator, name: name, logger: logger)
            let seen = try #require(try await observer.currentLeader())
            #expect(seen.value == "first" && seen.lease == first.lease.id)
            #expect(try #require(seen.expiresIn) <= settings.ttl)
            var leaders = observer.observe().makeAsyncIterator()
            #expect(await leaders.next()??.value == "first")
            cut.partitioned = true
            let partitionedAt = SystemClock().now
            let reason = await first.waitUntilLost()
            #expect(reason.contains("could not be renewed"), "\(reason)")
            let successor = try await second.value
            let tookOver = SystemClock().now
            #expect(successor.value == "second")
            #expect(await leaders.next()??.value == "second")
            // The old leader's own deadline passed before the new one could lead.
            #expect(first.validUntil <= tookOver)
            #expect(!first.isValid(at: tookOver))
            #expect(tookOver - partitionedAt <= settings.ttl + .seconds(2), "handover took \(tookOver - partitionedAt)")
            await successor.resign()
        }
    }

    @Test("racing candidates: one leader at a time, each leads once, handover on resignation", arguments: Backend.allCases)
    func racingCandidates(backend: Backend) async throws {
        try await withBackend(backend) { fixture in
            let name = prefix() + "race"
            let terms = TermLog()
            let logger = self.logger
            try await withThrowingTaskGroup(of: Void.self) { group in
                for candidate in 0..<5 {
                    group.addTask {
                        let election = LeaderElection(coordinator: fixture.coordinator, name: name, settings: .init(ttl: .seconds(5)), logger: logger)
                        let leadership = try await election.campaign(value: "c\(candidate)")
                        let start = SystemClock().now
                        try await Task.sleep(for: .milliseconds(Int.random(in: 50...250)))
                        let end = SystemClock().now
                        #expect(leadership.isValid(at: end))
                        await leadership.resign()
                        terms.append(Term(value: leadership.value, start: start, end: end))
                    }
                }
                try await group.waitForAll()
            }
            let all = terms.all.sorted { $0.start < $1.start }
            #expect(Set(all.map(\.value)).count == 5)
            for (earlier, later) in zip(all, all.dropFirst()) {
                #expect(earlier.end <= later.start, "\(earlier.value) and \(later.value) led at the same time")
            }
        }
    }
}

struct Term: Sendable {
    var value: String
    var start: MonotonicInstant
    var end: MonotonicInstant
}

/// The leadership terms seen in a test, from several tasks.
final class TermLog: Sendable {
    private let terms = Mutex<[Term]>([])
    var all: [Term] { terms.withLock { $0 } }
    func append(_ term: Term) { terms.withLock { $0.append(term) } }
}

/// Watch events collected by a watching task.
final class FollowerLog: Sendable {
    private struct State {
        var readings: [[String]] = []
        var events: [String] = []
        var pauses: [Duration] = []
    }
    private let state = Mutex(State())
    var readings: [[String]] { state.withLock { $0.readings } }
    var events: [String] { state.withLock { $0.events } }
    var pauses: [Duration] { state.withLock { $0.pauses } }
    func reading(_ keys: [String]) { state.withLock { $0.readings.append(keys) } }
    func event(_ key: String) { state.withLock { $0.events.append(key) } }
    func failed(_ pause: Duration) { state.withLock { $0.pauses.append(pause) } }
}

final class EventLog: Sendable {
    private let events = Mutex<[WatchEvent]>([])
    var all: [WatchEvent] { events.withLock { $0 } }
    func append(_ event: WatchEvent) { events.withLock { $0.append(event) } }
}
