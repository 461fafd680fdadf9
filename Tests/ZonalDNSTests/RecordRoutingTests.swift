import Testing
import ZonalTesting

@testable import ZonalDNS

@Suite("Failover records")
struct RecordRoutingTests {
    static let name = try! DNSName(parsing: "www.example.test.", origin: nil)
    static let east: [[UInt8]] = [[10, 0, 1, 1], [10, 0, 1, 2]]
    static let west: [[UInt8]] = [[10, 0, 2, 1]]

    static func answer(whenAllDown: RouteAnswer.AllDown = .all) -> RouteAnswer {
        RouteAnswer(
            ttl: 30,
            pools: [
                .init(name: "east", members: east.map { .init(address: $0) }),
                .init(name: "west", members: west.map { .init(address: $0) }),
            ], whenAllDown: whenAllDown)
    }

    static func member(_ pool: Int, _ member: Int) -> RecordRouting.MemberID {
        RecordRouting.MemberID(name: name, pool: pool, member: member)
    }

    @Test("before any check every address counts as up; the secondary answers only when the primary has none, and gives way when one returns")
    func failoverAndBack() throws {
        var routing = RecordRouting(answers: [Self.name: Self.answer()])
        #expect(routing.answers[Self.name]?.choose(.v4).addresses == Self.east)
        let first = routing.setHealth(Self.member(0, 0), healthy: false, cause: "refused")
        #expect(first?.to == "pool east: 10.0.1.2")
        #expect(routing.setHealth(Self.member(0, 0), healthy: false, cause: "refused") == nil, "the same verdict again changes nothing")
        let failoverChange = routing.setHealth(Self.member(0, 1), healthy: false, cause: "timed out")
        let failover = try #require(failoverChange)
        #expect(failover.to == "pool west: 10.0.2.1" && failover.cause.contains("10.0.1.2 of pool east is down (timed out)"))
        #expect(failover.description.hasPrefix("answer of www.example.test. changed from pool east: 10.0.1.2 to pool west: 10.0.2.1"))
        let backChange = routing.setHealth(Self.member(0, 1), healthy: true, cause: "2 successes")
        let back = try #require(backChange)
        #expect(back.to == "pool east: 10.0.1.2")
    }

    @Test("with nothing healthy the record says what to answer: every address, none, or a fixed fallback")
    func allDown() {
        for (mode, expected) in [(RouteAnswer.AllDown.all, Self.east + Self.west), (.none, []), (.fixed([[192, 0, 2, 99]]), [[192, 0, 2, 99]])]
            as [(RouteAnswer.AllDown, [[UInt8]])]
        {
            var routing = RecordRouting(answers: [Self.name: Self.answer(whenAllDown: mode)])
            for (pool, count) in [(0, 2), (1, 1)] {
                for member in 0..<count { _ = routing.setHealth(Self.member(pool, member), healthy: false, cause: "down") }
            }
            let choice = routing.answers[Self.name]!.choose(.v4)
            #expect(choice.addresses == expected && choice.pool == nil)
        }
    }

    @Test("a weighted pool answers one address per query in proportion to the weights; weight 0 is never answered")
    func weights() {
        let answer = RouteAnswer(
            ttl: 30,
            pools: [
                .init(
                    name: "main",
                    members: [.init(address: [10, 0, 0, 1], weight: 3), .init(address: [10, 0, 0, 2], weight: 1), .init(address: [10, 0, 0, 3], weight: 0)],
                    weighted: true)
            ])
        var counts: [[UInt8]: Int] = [:]
        for selector in 0..<40_000 {
            let choice = answer.choose(.v4, selector: UInt64(selector))
            #expect(choice.addresses.count == 1)
            counts[choice.addresses[0], default: 0] += 1
        }
        #expect(counts[[10, 0, 0, 3]] == nil)
        let share = Double(counts[[10, 0, 0, 1]] ?? 0) / 40_000
        #expect(abs(share - 0.75) < 0.02, "share of weight 3 in 4: \(share)")
    }

    @Test("A and AAAA fail over on their own: a pool with no healthy IPv6 address leaves AAAA to the next", arguments: [UInt64(1)])
    func perFamily(_: UInt64) {
        let answer = RouteAnswer(
            ttl: 30,
            pools: [
                .init(name: "east", members: [.init(address: [10, 0, 0, 1]), .init(address: Array(repeating: 0, count: 15) + [1], healthy: false)]),
                .init(name: "west", members: [.init(address: Array(repeating: 0, count: 15) + [2])]),
            ])
        #expect(answer.choose(.v4).pool == "east")
        #expect(answer.choose(.v6).pool == "west")
    }

    @Test("seeded random verdicts: the answer is the first pool's healthy addresses, a change is reported exactly when it moves", arguments: 0..<40)
    func seededSchedules(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) &+ 0xD15)
        var routing = RecordRouting(answers: [Self.name: Self.answer()])
        var healthy = [[true, true], [true]]
        var previous = routing.answers[Self.name]!.summary
        for _ in 0..<300 {
            let pool = Int.random(in: 0...1, using: &random)
            let member = Int.random(in: 0..<healthy[pool].count, using: &random)
            let verdict = Bool.random(using: &random)
            healthy[pool][member] = verdict
            let change = routing.setHealth(Self.member(pool, member), healthy: verdict, cause: "seeded")
            let answer = routing.answers[Self.name]!
            let expected =
                [Self.east, Self.west].enumerated().lazy.map { index, addresses in addresses.enumerated().filter { healthy[index][$0.offset] }.map(\.element) }
                .first { !$0.isEmpty } ?? (Self.east + Self.west)
            #expect(answer.choose(.v4).addresses == expected)
            #expect((change != nil) == (answer.summary != previous), "a change is reported if and only if the answer moved")
            if let change { #expect(change.from == previous && change.to == answer.summary) }
            previous = answer.summary
        }
    }

    @Test("a reload keeps the health known for addresses still in the same pool")
    func reloadKeepsHealth() {
        var routing = RecordRouting(answers: [Self.name: Self.answer()])
        _ = routing.setHealth(Self.member(0, 0), healthy: false, cause: "down")
        var next = Self.answer()
        next.pools[0].members.append(.init(address: [10, 0, 1, 3]))
        routing.replaceDefinitions([Self.name: next])
        #expect(routing.answers[Self.name]?.choose(.v4).addresses == [[10, 0, 1, 2], [10, 0, 1, 3]])
    }
}
