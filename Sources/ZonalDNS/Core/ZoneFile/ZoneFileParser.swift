/// Reads zone files in the master-file format of RFC 1035 §5: `$ORIGIN`, `$TTL` (RFC 2308),
/// `$INCLUDE`, relative names and `@`, owners carried over from the previous record, TTL and
/// class in either order, TTLs with units (`1h30m`), parentheses, comments, escapes, and the
/// generic `\# LENGTH HEX` data of RFC 3597. Every problem names the file and line.
public struct ZoneFileParser {
    /// Reads an included file by the path written in `$INCLUDE`, resolved against the
    /// including file's directory; the runtime reads the disk, tests a dictionary.
    public typealias FileReader = (String) throws -> [UInt8]

    /// Includes nested deeper than this are refused, which also ends include loops.
    static let maximumIncludeDepth = 8
    /// The largest TTL DNS allows (RFC 2181 §8).
    static let maximumTTL: UInt32 = 0x7FFF_FFFF

    private let readFile: FileReader
    private var records: [ResourceRecord] = []

    private init(readFile: @escaping FileReader) {
        self.readFile = readFile
    }

    /// The records of the file at `path` whose text is `text`, for the zone `origin`.
    public static func parse(_ text: [UInt8], file path: String, origin: DNSName, readFile: @escaping FileReader) throws(ZoneFileError) -> [ResourceRecord] {
        var parser = ZoneFileParser(readFile: readFile)
        var state = State(origin: origin)
        try parser.parse(text, file: path, state: &state, depth: 0)
        return parser.records
    }

    /// What carries from one entry to the next within a file.
    private struct State {
        var origin: DNSName
        var defaultTTL: UInt32?
        var lastOwner: DNSName?
        var lastTTL: UInt32?
    }

    private mutating func parse(_ text: [UInt8], file: String, state: inout State, depth: Int) throws(ZoneFileError) {
        for entry in try ZoneFileTokenizer.entries(text, file: file) {
            if !entry.continuesOwner, let first = entry.tokens.first, !first.quoted, first.text.first == UInt8(ascii: "$") {
                try directive(entry, file: file, state: &state, depth: depth)
            } else {
                records.append(try record(entry, file: file, state: &state))
            }
        }
    }

    private mutating func directive(_ entry: ZoneFileTokenizer.Entry, file: String, state: inout State, depth: Int) throws(ZoneFileError) {
        let tokens = entry.tokens
        let name = tokens[0].string.uppercased()
        func fail(_ message: String) -> ZoneFileError { ZoneFileError(file: file, line: entry.line, message) }
        switch name {
        case "$ORIGIN":
            guard tokens.count == 2 else { throw fail("$ORIGIN takes one name") }
            state.origin = try Self.name(tokens[1], origin: state.origin, file: file)
        case "$TTL":
            guard tokens.count == 2 else { throw fail("$TTL takes one TTL") }
            state.defaultTTL = try Self.ttl(tokens[1], file: file)
        case "$INCLUDE":
            guard (2...3).contains(tokens.count) else { throw fail("$INCLUDE takes a file name and optionally an origin") }
            guard depth < Self.maximumIncludeDepth else { throw fail("$INCLUDE nested more than \(Self.maximumIncludeDepth) deep (an include loop?)") }
            let included = tokens[1].string
            let path = included.hasPrefix("/") || !file.contains("/") ? included : file[...file.lastIndex(of: "/")!] + included
            let bytes: [UInt8]
            do { bytes = try readFile(path) } catch { throw fail("$INCLUDE \(included): cannot read \(path): \(error)") }
            var inner = State(origin: state.origin, defaultTTL: state.defaultTTL, lastOwner: state.lastOwner, lastTTL: state.lastTTL)
            if tokens.count == 3 { inner.origin = try Self.name(tokens[2], origin: state.origin, file: file) }
            try parse(bytes, file: path, state: &inner, depth: depth + 1)
        default:
            throw fail("unknown directive \(tokens[0].string); this parser knows $ORIGIN, $TTL and $INCLUDE")
        }
    }

    private func record(_ entry: ZoneFileTokenizer.Entry, file: String, state: inout State) throws(ZoneFileError) -> ResourceRecord {
        var tokens = entry.tokens[...]
        func fail(_ message: String) -> ZoneFileError { ZoneFileError(file: file, line: entry.line, message) }
        let owner: DNSName
        if entry.continuesOwner {
            guard let last = state.lastOwner else { throw fail("the first record has no owner name (the line starts with a blank)") }
            owner = last
        } else {
            owner = try Self.name(tokens.removeFirst(), origin: state.origin, file: file)
        }
        var ttl: UInt32?
        var sawClass = false
        var type: RecordType?
        while type == nil, let token = tokens.first {
            tokens.removeFirst()
            let text = token.string
            if ttl == nil, let first = text.first, first.isASCII, first.isNumber {
                ttl = try Self.ttl(token, file: file)
            } else if !sawClass, ["IN", "CH", "HS", "CS"].contains(text.uppercased()) {
                guard text.uppercased() == "IN" else { throw fail("class \(text): only IN is served") }
                sawClass = true
            } else if let known = RecordType(mnemonic: Substring(text)), !known.isMeta {
                type = known
            } else {
                throw fail("\"\(text)\" is not a TTL, a class or a record type")
            }
        }
        guard let type else { throw fail("the record for \(owner) has no type") }
        guard let recordTTL = ttl ?? state.defaultTTL ?? state.lastTTL else {
            throw fail("the record for \(owner) has no TTL and no $TTL is set")
        }
        var reader = RecordDataReader(tokens: Array(tokens), origin: state.origin, file: file, line: entry.line)
        let data = try reader.read(type)
        state.lastOwner = owner
        state.lastTTL = recordTTL
        return ResourceRecord(name: owner, ttl: recordTTL, data: data)
    }

    static func name(_ token: ZoneFileTokenizer.Token, origin: DNSName, file: String) throws(ZoneFileError) -> DNSName {
        do { return try DNSName(parsing: Substring(token.string), origin: origin) } catch {
            throw ZoneFileError(file: file, line: token.line, error.description)
        }
    }

    /// Seconds, or a sum of numbers with units `s`, `m`, `h`, `d`, `w` (`1h30m`), at most 2³¹−1.
    static func ttl(_ token: ZoneFileTokenizer.Token, file: String) throws(ZoneFileError) -> UInt32 {
        let text = token.string.lowercased()
        func fail() -> ZoneFileError {
            ZoneFileError(file: file, line: token.line, "TTL \"\(token.string)\" is not a number of seconds or a duration such as 1h30m, at most 2147483647 s")
        }
        if let plain = UInt64(text) {
            guard plain <= UInt64(maximumTTL) else { throw fail() }
            return UInt32(plain)
        }
        var total: UInt64 = 0
        var digits = ""
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                guard digits.count <= 10 else { throw fail() }
                continue
            }
            let unit: UInt64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 604_800
            default: throw fail()
            }
            guard let value = UInt64(digits) else { throw fail() }
            total += value * unit
            guard total <= UInt64(maximumTTL) else { throw fail() }
            digits = ""
        }
        guard digits.isEmpty else { throw fail() }
        return UInt32(total)
    }
}
