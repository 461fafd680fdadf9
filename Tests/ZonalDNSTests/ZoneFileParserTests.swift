import Testing

@testable import ZonalDNS

@Suite("Zone files")
struct ZoneFileParserTests {
    static let origin = try! DNSName(parsing: "example.test.", origin: nil)

    static func parse(_ text: String, files: [String: String] = [:]) throws(ZoneFileError) -> [ResourceRecord] {
        try ZoneFileParser.parse(Array(text.utf8), file: "zones/example.zone", origin: origin) { path in
            guard let file = files[path] else { throw ZoneFileError(file: path, line: 0, "no such file") }
            return Array(file.utf8)
        }
    }

    @Test("directives, relative names, carried owners, TTL and class in either order, parentheses, comments and escapes")
    func fullSyntax() throws {
        let records = try Self.parse(
            """
            $TTL 1h30m
            @ IN SOA ns1 hostmaster ( 7 ; serial
                 1h 15m 1w 300 ) ; timers
                NS ns1
            ns1 300 IN A 192.0.2.1
                IN 60 AAAA 2001:db8::1
            txt TXT "a \\"quoted\\" string" unquoted "\\065\\066"
            esc\\.aped TXT x
            $ORIGIN sub.example.test.
            www CNAME @
            $INCLUDE more.zone other.example.test.
            back A 192.0.2.9
            """, files: ["zones/more.zone": "in-include A 192.0.2.7\n"])
        let byName = Dictionary(grouping: records, by: { $0.name.description })
        #expect(records.count == 9)
        #expect(records[0].ttl == 5400)
        guard case .soa(let soa) = records[0].data else {
            Issue.record("first record is not the SOA")
            return
        }
        #expect(soa.serial == 7 && soa.refresh == 3600 && soa.retry == 900 && soa.expire == 604_800 && soa.minimum == 300)
        #expect(soa.primary.description == "ns1.example.test.")
        #expect(records[1].name.description == "example.test." && records[1].type == .ns)
        #expect(byName["ns1.example.test."]?.map(\.ttl) == [300, 60])
        #expect(byName["txt.example.test."]?.first?.data == .txt([Array("a \"quoted\" string".utf8), Array("unquoted".utf8), Array("AB".utf8)]))
        #expect(byName["esc\\.aped.example.test."]?.count == 1)
        #expect(byName["www.sub.example.test."]?.first?.data == .cname(try DNSName(parsing: "sub.example.test.", origin: nil)))
        #expect(byName["in-include.other.example.test."]?.count == 1, "an include takes its own origin")
        #expect(byName["back.sub.example.test."]?.count == 1, "the origin comes back after the include")
    }

    @Test(
        "bad files are refused with the file, the line and the reason",
        arguments: [
            ("$TTL 1h\n@ SOA ns hm 1 1 1 1 1\nwww A 300.1.1.1\n", 3, "is not an IPv4 address"),
            ("$TTL 1h\nwww IN MX 70000 mail\n", 2, "the preference"),
            ("$TTL 1x\n", 1, "TTL \"1x\""),
            ("www 1h IN HINFO a b\n", 1, "is not a TTL, a class or a record type"),
            ("$TTL 1h\nwww TXT \"open\n", 2, "quoted string is not closed"),
            ("$TTL 1h\n@ SOA ( ns hm 1 1 1 1 1\n", 2, "`(` is not closed"),
            ("$TTL 1h\nwww A 1.2.3.4 extra\n", 2, "unexpected \"extra\""),
            ("  A 1.2.3.4\n", 1, "has no owner"),
            ("www A 1.2.3.4\n", 1, "no TTL and no $TTL"),
            ("$TTL 1h\n$INCLUDE missing.zone\n", 2, "cannot read zones/missing.zone"),
            ("$TTL 1h\nwww CH A 1.2.3.4\n", 2, "only IN is served"),
            ("$TTL 1h\na..b A 1.2.3.4\n", 2, "empty label"),
            ("$TTL 1h\n$GENERATE 1-2 x A 1.2.3.4\n", 2, "unknown directive"),
            ("$TTL 1h\nwww TXT \"\\999\"\n", 2, "bad escape"),
            ("$TTL 99999999999\n", 1, "at most 2147483647"),
        ])
    func badFiles(text: String, line: Int, reason: String) {
        #expect {
            _ = try Self.parse(text)
        } throws: { error in
            guard let error = error as? ZoneFileError else { return false }
            return error.file == "zones/example.zone" && error.line == line && error.message.contains(reason)
        }
    }

    @Test("an include loop ends at the depth limit with an error")
    func includeLoop() {
        #expect(throws: ZoneFileError.self) {
            _ = try Self.parse("$TTL 1h\n$INCLUDE loop.zone\n", files: ["zones/loop.zone": "$INCLUDE loop.zone\n"])
        }
    }

    @Test("generic RFC 3597 data is read for unknown types and checked against known ones")
    func genericData() throws {
        let records = try Self.parse("$TTL 1h\nx TYPE65280 \\# 3 abcdef\ny A \\# 4 c0000201\n")
        #expect(records[0].data == .unknown(RecordType(rawValue: 65280), [0xAB, 0xCD, 0xEF]))
        #expect(records[1].data == .a(.init(192, 0, 2, 1)))
        #expect(throws: ZoneFileError.self) { _ = try Self.parse("$TTL 1h\ny A \\# 3 c00002\n") }
    }

    @Test("records make a zone only with one SOA at the apex, all inside it, and CNAMEs alone")
    func zoneRules() throws {
        let soa = "$TTL 1h\n@ SOA ns hm 1 1 1 1 1\n"
        #expect(throws: ZoneError.self) { try Zone(origin: Self.origin, records: try Self.parse("$TTL 1h\nwww A 1.2.3.4\n")) }
        #expect(throws: ZoneError.self) { try Zone(origin: Self.origin, records: try Self.parse(soa + "other.test. A 1.2.3.4\n")) }
        #expect(throws: ZoneError.self) { try Zone(origin: Self.origin, records: try Self.parse(soa + "www CNAME a\nwww A 1.2.3.4\n")) }
        _ = try Zone(origin: Self.origin, records: try Self.parse(soa + "www CNAME a\n"))
    }
}
