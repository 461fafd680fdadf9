/// The data of a record, by type. Types Zonal does not know are kept as bytes (RFC 3597), so
/// a zone can hold them and a transfer carries them unchanged.
public enum RecordData: Hashable, Sendable {
    case a(IPv4)
    case aaaa(IPv6)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case mx(preference: UInt16, exchange: DNSName)
    /// One or more character strings, each at most 255 bytes.
    case txt([[UInt8]])
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case caa(flags: UInt8, tag: [UInt8], value: [UInt8])
    case soa(SOA)
    case unknown(RecordType, [UInt8])

    public struct IPv4: Hashable, Sendable {
        public let bytes: (UInt8, UInt8, UInt8, UInt8)

        public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
            bytes = (a, b, c, d)
        }

        public static func == (left: IPv4, right: IPv4) -> Bool { left.array == right.array }
        public func hash(into hasher: inout Hasher) { hasher.combine(array) }
        var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3] }
    }

    public struct IPv6: Hashable, Sendable {
        /// The 16 address bytes.
        public let bytes: [UInt8]

        init(validated bytes: [UInt8]) {
            self.bytes = bytes
        }
    }

    /// The start of authority: serial and the timers secondaries use, and `minimum`, the TTL
    /// of negative answers (RFC 2308).
    public struct SOA: Hashable, Sendable {
        public var primary: DNSName
        public var mailbox: DNSName
        public var serial: UInt32
        public var refresh: UInt32
        public var retry: UInt32
        public var expire: UInt32
        public var minimum: UInt32
    }

    public var type: RecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .srv: .srv
        case .caa: .caa
        case .soa: .soa
        case .unknown(let type, _): type
        }
    }

    /// The name an answer of this record leads to, whose addresses go into the additional
    /// section (RFC 1035 §3.3: NS, MX; RFC 2782: SRV).
    var additionalTarget: DNSName? {
        switch self {
        case .ns(let name), .mx(_, let name), .srv(_, _, _, let name): name
        default: nil
        }
    }

    func write(to writer: inout WireWriter) {
        switch self {
        case .a(let address): writer.append(address.array)
        case .aaaa(let address): writer.append(address.bytes)
        case .ns(let name), .cname(let name), .ptr(let name): writer.name(name)
        case .mx(let preference, let exchange):
            writer.uint16(preference)
            writer.name(exchange)
        case .txt(let strings):
            for string in strings {
                writer.uint8(UInt8(string.count))
                writer.append(string)
            }
        case .srv(let priority, let weight, let port, let target):
            writer.uint16(priority)
            writer.uint16(weight)
            writer.uint16(port)
            writer.name(target, compress: false)
        case .caa(let flags, let tag, let value):
            writer.uint8(flags)
            writer.uint8(UInt8(tag.count))
            writer.append(tag)
            writer.append(value)
        case .soa(let soa):
            writer.name(soa.primary)
            writer.name(soa.mailbox)
            for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { writer.uint32(value) }
        case .unknown(_, let bytes): writer.append(bytes)
        }
    }

    /// Decodes `length` bytes of data of `type` at the reader's position (names in the data
    /// may point anywhere earlier in the message).
    static func read(type: RecordType, length: Int, from reader: inout WireReader) throws(WireError) -> RecordData {
        let end = reader.index + length
        guard length >= 0, end <= reader.bytes.count else { throw .truncated }
        let data: RecordData
        switch type {
        case .a:
            guard length == 4 else { throw .badRecordData(type) }
            data = .a(IPv4(try reader.uint8(), try reader.uint8(), try reader.uint8(), try reader.uint8()))
        case .aaaa:
            guard length == 16 else { throw .badRecordData(type) }
            data = .aaaa(IPv6(validated: Array(try reader.bytes(16))))
        case .ns: data = .ns(try reader.name())
        case .cname: data = .cname(try reader.name())
        case .ptr: data = .ptr(try reader.name())
        case .mx: data = .mx(preference: try reader.uint16(), exchange: try reader.name())
        case .srv: data = .srv(priority: try reader.uint16(), weight: try reader.uint16(), port: try reader.uint16(), target: try reader.name())
        case .soa:
            data = .soa(
                SOA(
                    primary: try reader.name(), mailbox: try reader.name(), serial: try reader.uint32(), refresh: try reader.uint32(),
                    retry: try reader.uint32(), expire: try reader.uint32(), minimum: try reader.uint32()))
        case .txt:
            var strings: [[UInt8]] = []
            while reader.index < end {
                let count = Int(try reader.uint8())
                strings.append(Array(try reader.bytes(count)))
            }
            data = .txt(strings)
        case .caa:
            let flags = try reader.uint8()
            let tagLength = Int(try reader.uint8())
            let tag = Array(try reader.bytes(tagLength))
            guard reader.index <= end else { throw .badRecordData(type) }
            data = .caa(flags: flags, tag: tag, value: Array(try reader.bytes(end - reader.index)))
        default:
            data = .unknown(type, Array(try reader.bytes(length)))
        }
        guard reader.index == end else { throw .badRecordData(type) }
        return data
    }
}

/// One record: owner, type (from the data), class, TTL and data.
public struct ResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var recordClass: RecordClass
    public var ttl: UInt32
    public var data: RecordData

    public init(name: DNSName, recordClass: RecordClass = .internet, ttl: UInt32, data: RecordData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public var type: RecordType { data.type }
}
