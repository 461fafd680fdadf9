import ZonalCore

/// Reads the data part of one zone-file record for its type, every field range-checked, and
/// refuses leftover tokens.
struct RecordDataReader {
    var tokens: ArraySlice<ZoneFileTokenizer.Token>
    let origin: DNSName
    let file: String
    let line: Int

    init(tokens: [ZoneFileTokenizer.Token], origin: DNSName, file: String, line: Int) {
        self.tokens = tokens[...]
        self.origin = origin
        self.file = file
        self.line = line
    }

    private func fail(_ message: String) -> ZoneFileError {
        ZoneFileError(file: file, line: line, message)
    }

    mutating func read(_ type: RecordType) throws(ZoneFileError) -> RecordData {
        if tokens.first.map({ !$0.quoted && $0.string == "\\#" }) == true { return try generic(type) }
        let data: RecordData
        switch type {
        case .a:
            let text = try next("an IPv4 address").string
            guard let bytes = IPAddressText.bytes(text), bytes.count == 4 else { throw fail("\"\(text)\" is not an IPv4 address") }
            data = .a(RecordData.IPv4(bytes[0], bytes[1], bytes[2], bytes[3]))
        case .aaaa:
            let text = try next("an IPv6 address").string
            guard let bytes = IPAddressText.bytes(text), bytes.count == 16 else { throw fail("\"\(text)\" is not an IPv6 address") }
            data = .aaaa(RecordData.IPv6(validated: bytes))
        case .ns: data = .ns(try name("a name server"))
        case .cname: data = .cname(try name("the canonical name"))
        case .ptr: data = .ptr(try name("the name pointed to"))
        case .mx: data = .mx(preference: try number("the preference", max: 65535), exchange: try name("the mail exchange"))
        case .srv:
            data = .srv(
                priority: try number("the priority", max: 65535), weight: try number("the weight", max: 65535),
                port: try number("the port", max: 65535), target: try name("the target"))
        case .txt:
            var strings: [[UInt8]] = []
            while !tokens.isEmpty { strings.append(try characterString()) }
            guard !strings.isEmpty else { throw fail("a TXT record needs at least one string") }
            data = .txt(strings)
        case .caa:
            let flags: UInt8 = try number("the flags", max: 255)
            let tag = try next("the tag")
            guard !tag.text.isEmpty, tag.text.count <= 255,
                tag.text.allSatisfy({ $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber) })
            else { throw fail("CAA tag \"\(tag.string)\" must be letters and digits") }
            let value = try ZoneFileTokenizer.unescaped(try next("the value"), file: file)
            data = .caa(flags: flags, tag: tag.text, value: value)
        case .soa:
            let primary = try name("the primary name server")
            let mailbox = try name("the mailbox")
            let serial: UInt32 = try number("the serial", max: UInt64(UInt32.max))
            var timers: [UInt32] = []
            for field in ["refresh", "retry", "expire", "minimum"] {
                let token = try next("the \(field) time")
                timers.append(try ZoneFileParser.ttl(token, file: file))
            }
            data = .soa(
                RecordData.SOA(primary: primary, mailbox: mailbox, serial: serial, refresh: timers[0], retry: timers[1], expire: timers[2], minimum: timers[3]))
        default:
            throw fail("type \(type) needs its data in the generic form \\# LENGTH HEX (RFC 3597)")
        }
        if let extra = tokens.first { throw fail("unexpected \"\(extra.string)\" after the data of a \(type) record") }
        return data
    }

    /// `\# LENGTH HEX…`: the data as bytes, checked against the length, then decoded as the
    /// type demands when Zonal knows it.
    private mutating func generic(_ type: RecordType) throws(ZoneFileError) -> RecordData {
        tokens.removeFirst()
        let length: Int = try number("the data length", max: 65535)
        let hex = tokens.map(\.string).joined()
        tokens = []
        guard hex.count == length * 2, let bytes = Self.hexBytes(hex) else { throw fail("\\# data must be \(length) bytes in hex, got \"\(hex)\"") }
        var reader = WireReader(bytes)
        guard let data = try? RecordData.read(type: type, length: bytes.count, from: &reader) else { throw fail("\\# data is not a valid \(type) record") }
        return data
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let value = UInt8(String([high, low]), radix: 16) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private mutating func next(_ what: String) throws(ZoneFileError) -> ZoneFileTokenizer.Token {
        guard let token = tokens.popFirst() else { throw fail("missing \(what)") }
        return token
    }

    private mutating func name(_ what: String) throws(ZoneFileError) -> DNSName {
        try ZoneFileParser.name(try next(what), origin: origin, file: file)
    }

    private mutating func number<Value: FixedWidthInteger>(_ what: String, max: UInt64) throws(ZoneFileError) -> Value {
        let token = try next(what)
        guard let value = UInt64(token.string), value <= max else { throw fail("\(what) \"\(token.string)\" must be a whole number from 0 to \(max)") }
        return Value(value)
    }

    private mutating func characterString() throws(ZoneFileError) -> [UInt8] {
        let token = try next("a string")
        let bytes = try ZoneFileTokenizer.unescaped(token, file: file)
        guard bytes.count <= 255 else { throw fail("a TXT string is \(bytes.count) bytes; at most 255 (split it into several strings)") }
        return bytes
    }
}
