import Testing

@testable import ZonalDNS

/// Queries in wire form through the responder, answers decoded as a client would.
@Suite("Authoritative answers")
struct AnswerTests {
    static let zoneText = """
        $TTL 1h
        @ SOA ns1 hostmaster 5 3600 600 86400 120
          NS ns1
          MX 10 mail
        ns1 A 192.0.2.1
        mail 300 A 192.0.2.2
        alias CNAME mail
        chain CNAME alias
        outside CNAME www.elsewhere.test.
        loop1 CNAME loop2
        loop2 CNAME loop1
        *.wild A 192.0.2.7
        deep.a.b TXT "deep"
        sub NS ns.sub
        ns.sub A 192.0.2.8
        big TXT "\(String(repeating: "a", count: 250))" "\(String(repeating: "b", count: 250))" "\(String(repeating: "c", count: 250))"
        """

    static func snapshot(routes: [DNSName: RouteAnswer] = [:], transferTo: [[UInt8]] = []) throws -> QueryResponder.Snapshot {
        let origin = ZoneFileParserTests.origin
        let records = try ZoneFileParser.parse(Array(zoneText.utf8), file: "t.zone", origin: origin) { _ in [] }
        let zone = try Zone(origin: origin, records: records, routes: routes)
        return QueryResponder.Snapshot(authority: Authority(zones: [zone]), transferTo: [origin: transferTo])
    }

    static func ask(
        _ query: QueryBuilder, over transport: ResponseEncoder.Transport = .udp, from client: [UInt8] = [127, 0, 0, 1],
        snapshot: QueryResponder.Snapshot? = nil
    ) throws -> DecodedMessage {
        let reply = QueryResponder.respond(
            to: try query.bytes(), from: Authority.Client(address: client, port: 5353), over: transport, snapshot: try snapshot ?? Self.snapshot()
        ).reply
        guard case .message(let bytes) = reply else { throw WireError.truncated }
        return try DecodedMessage(bytes)
    }

    @Test("an existing name: AA, the records, the query's case kept in the question and answer, addresses of MX targets added")
    func positive() throws {
        let answer = try Self.ask(QueryBuilder(name: "EXAMPLE.test.", type: .mx))
        #expect(answer.code == .noError && answer.isAuthoritative && answer.id == 0x1234)
        #expect(answer.questions.first?.wire == (try DNSName(parsing: "EXAMPLE.test.", origin: nil)).wire, "the question keeps the client's case")
        #expect(answer.answers.first?.name.wire == answer.questions.first?.wire, "the answer's owner is the question's spelling")
        #expect(answer.answers.map(\.data) == [.mx(preference: 10, exchange: try DNSName(parsing: "mail.example.test.", origin: nil))])
        #expect(answer.additional.map(\.data) == [.a(.init(192, 0, 2, 2))])
    }

    @Test("NXDOMAIN and NODATA carry the SOA with the negative TTL; an empty non-terminal is NODATA")
    func negative() throws {
        let missing = try Self.ask(QueryBuilder(name: "nope.example.test."))
        #expect(missing.code == .nameError && missing.isAuthoritative)
        #expect(missing.authority.map(\.type) == [.soa] && missing.authority.first?.ttl == 120)
        let noData = try Self.ask(QueryBuilder(name: "mail.example.test.", type: .txt))
        #expect(noData.code == .noError && noData.answers.isEmpty && noData.authority.map(\.type) == [.soa])
        let empty = try Self.ask(QueryBuilder(name: "a.b.example.test.", type: .a))
        #expect(empty.code == .noError && empty.answers.isEmpty, "a.b exists because deep.a.b does")
    }

    @Test("CNAME chains are followed inside the zone, stop at names outside it, and a loop ends")
    func cnames() throws {
        let chain = try Self.ask(QueryBuilder(name: "chain.example.test."))
        #expect(chain.answers.map(\.type) == [.cname, .cname, .a])
        #expect(chain.answers.last?.data == .a(.init(192, 0, 2, 2)))
        let outside = try Self.ask(QueryBuilder(name: "outside.example.test."))
        #expect(outside.code == .noError && outside.answers.map(\.type) == [.cname])
        let loop = try Self.ask(QueryBuilder(name: "loop1.example.test."))
        #expect(loop.answers.count == 2)
        let asked = try Self.ask(QueryBuilder(name: "alias.example.test.", type: .cname))
        #expect(asked.answers.map(\.type) == [.cname], "asking for the CNAME itself does not follow it")
    }

    @Test("wildcards answer for names below them with the asked name as owner; delegations refer with glue")
    func wildcardsAndDelegations() throws {
        let wild = try Self.ask(QueryBuilder(name: "x.y.wild.example.test."))
        #expect(wild.answers.map(\.name.description) == ["x.y.wild.example.test."])
        #expect(wild.answers.first?.data == .a(.init(192, 0, 2, 7)))
        let referral = try Self.ask(QueryBuilder(name: "host.sub.example.test."))
        #expect(!referral.isAuthoritative && referral.code == .noError && referral.answers.isEmpty)
        #expect(referral.authority.map(\.type) == [.ns] && referral.additional.map(\.data) == [.a(.init(192, 0, 2, 8))])
    }

    @Test("names outside our zones are REFUSED; other classes too; meta types other than ANY are NOTIMP")
    func refusals() throws {
        #expect(try Self.ask(QueryBuilder(name: "www.other.test.")).code == .refused)
        #expect(try Self.ask(QueryBuilder(name: "mail.example.test.", recordClass: 3)).code == .refused)
        #expect(try Self.ask(QueryBuilder(name: "mail.example.test.", type: RecordType(rawValue: 250))).code == .notImplemented)
        #expect(try Self.ask(QueryBuilder(name: "mail.example.test.", type: .any)).answers.count == 1)
    }

    @Test("an answer larger than the client's UDP size is cut at a whole record with TC; over TCP or with a larger size it is whole")
    func truncation() throws {
        let classic = try Self.ask(QueryBuilder(name: "big.example.test.", type: .txt))
        #expect(classic.isTruncated && classic.answers.isEmpty)
        let small = try Self.ask(QueryBuilder(name: "big.example.test.", type: .txt, udpSize: 512))
        #expect(small.isTruncated && small.udpSize == ResponseEncoder.maximumUDPSize)
        let large = try Self.ask(QueryBuilder(name: "big.example.test.", type: .txt, udpSize: 4096))
        #expect(!large.isTruncated && large.answers.count == 1)
        let tcp = try Self.ask(QueryBuilder(name: "big.example.test.", type: .txt), over: .tcp)
        #expect(!tcp.isTruncated && tcp.answers.count == 1)
    }

    @Test("EDNS: a version other than 0 gets BADVERS; a client subnet is echoed with the scope the answer used")
    func edns() throws {
        let badVersion = try Self.ask(QueryBuilder(name: "mail.example.test.", udpSize: 1232, ednsVersion: 1))
        #expect(badVersion.udpSize != nil && badVersion.answers.isEmpty)
        let name = try DNSName(parsing: "geo.example.test.", origin: nil)
        let route = RouteAnswer(
            ttl: 30,
            pools: [.init(name: "east", members: [.init(address: [192, 0, 2, 10])]), .init(name: "west", members: [.init(address: [198, 51, 100, 10])])],
            subnets: [.init(prefix: AddressPrefix(parsing: "10.1.0.0/16")!, pool: 1)])
        let snapshot = try Self.snapshot(routes: [name: route])
        // family 1, source /24, scope 0, 10.1.2
        let inWest = try Self.ask(QueryBuilder(name: "geo.example.test.", udpSize: 1232, subnet: [0, 1, 24, 0, 10, 1, 2]), snapshot: snapshot)
        #expect(inWest.answers.map(\.data) == [.a(.init(198, 51, 100, 10))])
        #expect(inWest.options[8] == [0, 1, 24, 16, 10, 1, 2], "scope /16: the table entry that decided")
        let elsewhere = try Self.ask(QueryBuilder(name: "geo.example.test.", udpSize: 1232, subnet: [0, 1, 24, 0, 10, 9, 2]), snapshot: snapshot)
        #expect(elsewhere.answers.map(\.data) == [.a(.init(192, 0, 2, 10))])
        let bySource = try Self.ask(QueryBuilder(name: "geo.example.test."), from: [10, 1, 7, 7], snapshot: snapshot)
        #expect(bySource.answers.map(\.data) == [.a(.init(198, 51, 100, 10))], "without ECS the source address routes")
    }

    @Test(
        "malformed queries get FORMERR with their ID, responses and runts are dropped, other opcodes NOTIMP",
        arguments: [
            ([0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0], "two questions"),
            ([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1], "a pointer to itself"),
            ([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61], "a name cut short"),
            ([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 4, 0, 3, 0, 0], "an ECS of family 3"),
        ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], _: String) throws {
        let reply = QueryResponder.respond(to: bytes, from: Authority.Client(address: [127, 0, 0, 1], port: 1), over: .udp, snapshot: try Self.snapshot()).reply
        guard case .message(let answer) = reply else {
            Issue.record("no answer")
            return
        }
        let decoded = try DecodedMessage(answer)
        #expect(decoded.code == .formatError && decoded.id == 0x1234)
    }

    @Test("responses and runts get nothing; NOTIFY and UPDATE get NOTIMP")
    func dropsAndOpcodes() throws {
        let snapshot = try Self.snapshot()
        let client = Authority.Client(address: [127, 0, 0, 1], port: 1)
        var response = try QueryBuilder(name: "mail.example.test.").bytes()
        response[2] |= 0x80
        guard case .none = QueryResponder.respond(to: response, from: client, over: .udp, snapshot: snapshot).reply else {
            Issue.record("a response was answered")
            return
        }
        guard case .none = QueryResponder.respond(to: [1, 2, 3], from: client, over: .udp, snapshot: snapshot).reply else {
            Issue.record("a runt was answered")
            return
        }
        #expect(try Self.ask(QueryBuilder(name: "example.test.", type: .soa, opcode: 5)).code == .notImplemented)
    }
}
