import Testing

@testable import ZonalDNS

@Suite("Answer cache")
struct AnswerCacheTests {
    /// Answers `query` through the cache as the UDP listener does: a hit patched, a miss answered
    /// and kept when it may be reused.
    static func answer(_ query: QueryBuilder, cache: inout AnswerCache, generation: Int = 1, snapshot: QueryResponder.Snapshot) throws -> (
        bytes: [UInt8], hit: Bool
    ) {
        let bytes = try query.bytes()
        return bytes.withUnsafeBytes { raw in
            if let hit = cache.lookup(raw, over: .udp, generation: generation) { return (AnswerCache.patch(hit, with: raw), true) }
            let response = QueryResponder.respond(to: bytes, from: .init(address: [127, 0, 0, 1], port: 1), over: .udp, snapshot: snapshot)
            guard case .message(let message) = response.reply else { return ([], false) }
            if case .sameQuestion = response.reuse { cache.store(message, for: raw, over: .udp) }
            return (message, false)
        }
    }

    @Test("a kept answer is byte for byte what the responder says, with the query's ID and letter case")
    func sameBytes() throws {
        let snapshot = try AnswerTests.snapshot()
        var cache = AnswerCache()
        for (name, type) in [("mail.example.test.", RecordType.a), ("nope.example.test.", .a), ("example.test.", .mx), ("big.example.test.", .txt)] {
            for udpSize in [nil, 512, 4096] as [Int?] {
                _ = try Self.answer(QueryBuilder(id: 1, name: name, type: type, udpSize: udpSize), cache: &cache, snapshot: snapshot)
                let query = QueryBuilder(id: 0xBEEF, name: name.uppercased(), type: type, udpSize: udpSize)
                let (cached, hit) = try Self.answer(query, cache: &cache, snapshot: snapshot)
                #expect(hit, "\(name) \(type) \(String(describing: udpSize)) was not kept")
                let fresh = QueryResponder.respond(to: try query.bytes(), from: .init(address: [127, 0, 0, 1], port: 1), over: .udp, snapshot: snapshot).reply
                guard case .message(let expected) = fresh else { continue }
                #expect(cached == expected)
            }
        }
    }

    @Test("answers of health-checked names and of queries with a client subnet are never kept; a new snapshot empties the cache")
    func notKept() throws {
        let name = try DNSName(parsing: "geo.example.test.", origin: nil)
        let snapshot = try AnswerTests.snapshot(routes: [name: RouteAnswer(ttl: 30, pools: [.init(name: "p", members: [.init(address: [10, 0, 0, 1])])])])
        var cache = AnswerCache()
        _ = try Self.answer(QueryBuilder(name: "geo.example.test."), cache: &cache, snapshot: snapshot)
        _ = try Self.answer(QueryBuilder(name: "mail.example.test.", udpSize: 1232, subnet: [0, 1, 8, 0, 10]), cache: &cache, snapshot: snapshot)
        #expect(cache.count == 0)
        _ = try Self.answer(QueryBuilder(name: "mail.example.test."), cache: &cache, snapshot: snapshot)
        #expect(cache.count == 1)
        #expect(try Self.answer(QueryBuilder(name: "mail.example.test."), cache: &cache, generation: 2, snapshot: snapshot).hit == false)
    }

    @Test("the cache stays within its capacity")
    func bounded() throws {
        let snapshot = try AnswerTests.snapshot()
        var cache = AnswerCache(capacity: 10)
        for index in 0..<35 { _ = try Self.answer(QueryBuilder(name: "n\(index).example.test."), cache: &cache, snapshot: snapshot) }
        #expect(cache.count <= 10)
    }
}
