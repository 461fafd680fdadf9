import Testing
import ZonalTesting

@testable import ZonalBalancer

@Suite("Schedulers")
struct SchedulerTests {
    let a = Backend(id: "a", host: "127.0.0.1", port: 1, zone: "z", weight: 5)
    let b = Backend(id: "b", host: "127.0.0.1", port: 2, zone: "z", weight: 1)
    let c = Backend(id: "c", host: "127.0.0.1", port: 3, zone: "z", weight: 1)

    @Test("smooth weighted round robin interleaves like nginx: 5,1,1 gives a a b a c a a")
    func smoothOrder() {
        var scheduler = SmoothWeightedRoundRobin()
        let picks = (0..<7).compactMap { _ in scheduler.pick(from: [a, b, c])?.id }
        #expect(picks == ["a", "a", "b", "a", "c", "a", "a"])
    }

    @Test("shares follow weights exactly over whole cycles; weight 0 is never picked")
    func shares() {
        var scheduler = SmoothWeightedRoundRobin()
        let drained = Backend(id: "d", host: "127.0.0.1", port: 4, zone: "z", weight: 0)
        var counts: [String: Int] = [:]
        for _ in 0..<700 { counts[scheduler.pick(from: [a, b, c, drained])!.id, default: 0] += 1 }
        #expect(counts == ["a": 500, "b": 100, "c": 100])
        #expect(scheduler.pick(from: [drained]) == nil)
        #expect(scheduler.pick(from: []) == nil)
    }

    @Test("a server leaving and coming back does not starve the others")
    func membershipChanges() {
        var scheduler = SmoothWeightedRoundRobin()
        var counts: [String: Int] = [:]
        for round in 0..<300 {
            let candidates = round % 3 == 0 ? [b, c] : [a, b, c]
            counts[scheduler.pick(from: candidates)!.id, default: 0] += 1
        }
        #expect(counts["b", default: 0] > 40 && counts["c", default: 0] > 40 && counts["a", default: 0] > 120, "\(counts)")
    }

    @Test("least connections picks the lowest active/weight, ties in turn")
    func leastConnections() {
        var scheduler = LeastConnections()
        let active = ["a": 9, "b": 2, "c": 1]
        #expect(scheduler.pick(from: [a, b, c]) { active[$0.id]! }?.id == "c")
        // a: 4/5 < b: 1/1 — weight counts.
        let loaded = ["a": 4, "b": 1, "c": 1]
        #expect(scheduler.pick(from: [a, b, c]) { loaded[$0.id]! }?.id == "a")
        let idle = (0..<4).compactMap { _ in scheduler.pick(from: [b, c]) { _ in 0 }?.id }
        #expect(Set(idle) == ["b", "c"])
    }

    @Test("consistent hashing: a leaving server moves only its own keys, spread follows weight")
    func consistentHashing() {
        let servers = (0..<5).map { Backend(id: "s\($0)", host: "127.0.0.1", port: 100 + $0, zone: "z", weight: $0 == 0 ? 2 : 1) }
        let full = ConsistentHashRing(backends: servers)
        let reduced = ConsistentHashRing(backends: servers.filter { $0.id != "s3" })
        var random = SeededRandom(seed: 7)
        var counts: [String: Int] = [:]
        var moved = 0
        var onRemoved = 0
        for _ in 0..<20_000 {
            let client = "10.\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 1...254, using: &random))"
            let before = full.backend(for: client)!.id
            let after = reduced.backend(for: client)!.id
            counts[before, default: 0] += 1
            if before == "s3" { onRemoved += 1 } else if before != after { moved += 1 }
        }
        #expect(moved == 0, "\(moved) keys moved that were not on the removed server")
        #expect(onRemoved > 2000)
        // s0 has weight 2 of 6: about a third of the keys.
        #expect((5500...7800).contains(counts["s0", default: 0]), "\(counts)")
        #expect(ConsistentHashRing.hash("10.0.0.1") == ConsistentHashRing.hash("10.0.0.1"))
        #expect(ConsistentHashRing(backends: []).backend(for: "x") == nil)
    }
}

/// Persistence cookies come from clients: any value must be answered, never trap.
@Suite("Persistence cookie from a hostile client")
struct PersistenceCookieTests {
    let cookie = PersistenceCookie(timeout: .seconds(1000))
    let now = 1_800_000_000

    @Test(
        "forged issue times (negative, beyond 64 bits, far past or future, not base 36) are no cookie or not valid",
        arguments: [
            "a.-1y2p0ij32e8e7", "a.1y2p0ij32e8e7", "a.-0", "a.zzzzzzzzzzzzzzzzzzzzzz", "a.", ".", "a", "a.!!", "a.1.2", "a. 1", "a.0",
        ])
    func forged(value: String) {
        guard let found = cookie.find(in: ["ZONALSRV=\(value)"]) else { return }
        #expect(!cookie.isValid(found, now: now), "\(value) was taken as valid")
        #expect(found.issued >= 0)
        // The extremes of the clock must not trap either.
        for instant in [Int.min, -1, 0, Int.max] {
            _ = cookie.isValid(found, now: instant)
            _ = cookie.needsRefresh(found, now: instant)
        }
    }

    @Test("a genuine cookie holds within its timeout, slides after a quarter of it, and lapses after it")
    func genuine() throws {
        let header = cookie.setCookie(token: "s1", now: now)
        let found = try #require(cookie.find(in: [String(header.prefix { $0 != ";" })]))
        #expect(found.token == "s1" && found.issued == now)
        #expect(cookie.isValid(found, now: now + 999) && !cookie.isValid(found, now: now + 1000))
        #expect(!cookie.needsRefresh(found, now: now + 250) && cookie.needsRefresh(found, now: now + 251))
        #expect(!cookie.isValid(found, now: now - 61), "issued more than a minute in the future")
        #expect(!cookie.isValid(found, now: Int.min) && !cookie.isValid(found, now: Int.max))
        #expect(cookie.needsRefresh(found, now: Int.min))
    }
}
