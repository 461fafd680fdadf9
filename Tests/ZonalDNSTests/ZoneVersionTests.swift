import Testing

@testable import ZonalDNS

@Suite("Zone versions, the journal and transfers")
struct ZoneVersionTests {
    static let origin = ZoneFileParserTests.origin
    static let written = try! ZoneFileParser.parse(Array("$TTL 1h\n@ SOA ns hm 10 1 1 1 60\n  NS ns\nns A 192.0.2.1\n".utf8), file: "t", origin: origin) { _ in
        []
    }
    static let name = try! DNSName(parsing: "www.example.test.", origin: nil)

    static func routes(healthy: Bool) -> [DNSName: RouteAnswer] {
        [
            name: RouteAnswer(
                ttl: 30,
                pools: [
                    .init(name: "east", members: [.init(address: [10, 0, 0, 1], healthy: healthy)]),
                    .init(name: "west", members: [.init(address: [10, 0, 0, 2])]),
                ])
        ]
    }

    @Test("a zone with health-checked names starts at the start time at least; the same content keeps the serial, a change takes the next")
    func serials() throws {
        let first = try ZoneVersions.next(after: nil, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: true), startSerial: 1000)
        #expect(first.soa.serial == 1000)
        #expect(
            try ZoneVersions.next(after: nil, origin: Self.origin, written: Self.written, routes: [:], startSerial: 1000).soa.serial == 10,
            "a static zone keeps the file's serial")
        let same = try ZoneVersions.next(after: first, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: true), startSerial: 1000)
        #expect(same.soa.serial == 1000)
        let moved = try ZoneVersions.next(after: first, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: false), startSerial: 1000)
        #expect(moved.soa.serial == 1001)
        #expect(moved.records.contains { $0.name == Self.name && $0.data == .a(.init(10, 0, 0, 2)) }, "a transfer carries the current answer")
        #expect(RecordData.SOA.isNewer(0, than: UInt32.max), "serials wrap (RFC 1982)")
    }

    @Test("IXFR sends the differences from the client's serial; past the journal, the whole zone; at the current serial, the SOA alone")
    func incrementalTransfer() throws {
        var journal = ZoneJournal()
        var zone = try ZoneVersions.next(after: nil, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: true), startSerial: 1000)
        for healthy in [false, true, false] {
            let next = try ZoneVersions.next(after: zone, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: healthy), startSerial: 1000)
            journal.record(from: zone, to: next)
            zone = next
        }
        #expect(zone.soa.serial == 1003)
        let chain = try #require(journal.differences(since: 1001, to: 1003))
        #expect(chain.map(\.to.serial) == [1002, 1003])
        #expect(chain[0].removed.map(\.data) == [.a(.init(10, 0, 0, 2))] && chain[0].added.map(\.data) == [.a(.init(10, 0, 0, 1))])
        #expect(journal.differences(since: 999, to: 1003) == nil)

        let query = try DNSQuery.parse(try QueryBuilder(name: "example.test.", type: .ixfr, serial: 1001).bytes())
        let messages = TransferEncoder.ixfr(zone, journal: journal, to: query)
        let records = try messages.flatMap { try DecodedMessage($0).answers }
        let serials = records.compactMap { record -> UInt32? in if case .soa(let soa) = record.data { soa.serial } else { nil } }
        #expect(serials == [1003, 1001, 1002, 1002, 1003, 1003])
        let behind = try DNSQuery.parse(try QueryBuilder(name: "example.test.", type: .ixfr, serial: 5).bytes())
        let full = try TransferEncoder.ixfr(zone, journal: journal, to: behind).flatMap { try DecodedMessage($0).answers }
        #expect(full.first?.type == .soa && full.last?.type == .soa && full.count == zone.records.count + 1)
        let current = try DNSQuery.parse(try QueryBuilder(name: "example.test.", type: .ixfr, serial: 1003).bytes())
        #expect(try TransferEncoder.ixfr(zone, journal: journal, to: current).flatMap { try DecodedMessage($0).answers }.count == 1)
    }

    @Test("the journal keeps its last versions only")
    func bounded() throws {
        var settings = ZoneJournal.Settings()
        settings.maximumVersions = 3
        var journal = ZoneJournal(settings: settings)
        var zone = try ZoneVersions.next(after: nil, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: true), startSerial: 1000)
        for index in 0..<10 {
            let next = try ZoneVersions.next(
                after: zone, origin: Self.origin, written: Self.written, routes: Self.routes(healthy: index % 2 == 1), startSerial: 1000)
            journal.record(from: zone, to: next)
            zone = next
        }
        #expect(journal.differences.count == 3 && journal.differences.first?.from.serial == 1007)
    }

    @Test("transfers are refused to addresses the zone does not list, and over UDP")
    func transferPermissions() throws {
        let allowed: [UInt8] = [127, 0, 0, 1]
        let snapshot = try AnswerTests.snapshot(transferTo: [allowed])
        #expect(try AnswerTests.ask(QueryBuilder(name: "example.test.", type: .axfr), over: .tcp, from: [127, 0, 0, 2], snapshot: snapshot).code == .refused)
        #expect(try AnswerTests.ask(QueryBuilder(name: "example.test.", type: .axfr), over: .udp, from: allowed, snapshot: snapshot).code == .formatError)
        #expect(
            try AnswerTests.ask(QueryBuilder(name: "sub.example.test.", type: .axfr), over: .tcp, from: allowed, snapshot: snapshot).code == .notAuthoritative)
        let reply = QueryResponder.respond(
            to: try QueryBuilder(name: "example.test.", type: .axfr).bytes(), from: .init(address: allowed, port: 1), over: .tcp, snapshot: snapshot
        ).reply
        guard case .transfer(let messages) = reply else {
            Issue.record("no transfer")
            return
        }
        let records = try messages.flatMap { try DecodedMessage($0).answers }
        #expect(records.first?.type == .soa && records.last?.type == .soa)
    }
}
