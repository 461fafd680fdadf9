@testable import ZonalDNS

/// A response decoded the way a client would, for assertions: flags, code and sections.
struct DecodedMessage {
    var id: UInt16
    var flags: UInt16
    var questions: [DNSName] = []
    var answers: [ResourceRecord] = []
    var authority: [ResourceRecord] = []
    var additional: [ResourceRecord] = []
    /// The OPT record's options, by code.
    var options: [UInt16: [UInt8]] = [:]
    var udpSize: Int?

    var code: ResponseCode { ResponseCode(rawValue: flags & 0x0F) }
    var isAuthoritative: Bool { flags & 0x0400 != 0 }
    var isTruncated: Bool { flags & 0x0200 != 0 }

    init(_ bytes: [UInt8]) throws {
        var reader = WireReader(bytes)
        id = try reader.uint16()
        flags = try reader.uint16()
        let counts = try (0..<4).map { _ in Int(try reader.uint16()) }
        for _ in 0..<counts[0] {
            questions.append(try reader.name())
            _ = try reader.uint32()
        }
        for section in 1...3 {
            for _ in 0..<counts[section] {
                let name = try reader.name()
                let type = RecordType(rawValue: try reader.uint16())
                let recordClass = try reader.uint16()
                let ttl = try reader.uint32()
                let length = Int(try reader.uint16())
                if type == .opt {
                    udpSize = Int(recordClass)
                    var options = WireReader(Array(try reader.bytes(length)))
                    while !options.isAtEnd {
                        let code = try options.uint16()
                        let size = Int(try options.uint16())
                        self.options[code] = Array(try options.bytes(size))
                    }
                    continue
                }
                let record = ResourceRecord(name: name, ttl: ttl, data: try RecordData.read(type: type, length: length, from: &reader))
                switch section {
                case 1: answers.append(record)
                case 2: authority.append(record)
                default: additional.append(record)
                }
            }
        }
        guard reader.isAtEnd else { throw WireError.trailingBytes }
    }
}

/// A query as a client sends it.
struct QueryBuilder {
    var id: UInt16 = 0x1234
    var name: String
    var type: RecordType = .a
    var recordClass: UInt16 = 1
    var opcode: UInt8 = 0
    /// An OPT record with this UDP size; nil: no EDNS.
    var udpSize: Int?
    var ednsVersion: UInt8 = 0
    var subnet: [UInt8]?
    /// For IXFR: the serial of the SOA sent in the authority section.
    var serial: UInt32?

    func bytes() throws -> [UInt8] {
        var writer = WireWriter(limit: 65535)
        writer.uint16(id)
        writer.uint16(UInt16(opcode) << 11 | 0x0100)
        writer.uint16(1)
        writer.uint16(0)
        writer.uint16(serial == nil ? 0 : 1)
        writer.uint16(udpSize == nil ? 0 : 1)
        let qname = try DNSName(parsing: Substring(name), origin: .root)
        writer.name(qname, compress: false)
        writer.uint16(type.rawValue)
        writer.uint16(recordClass)
        if let serial {
            writer.record(
                ResourceRecord(
                    name: qname, ttl: 0, data: .soa(.init(primary: .root, mailbox: .root, serial: serial, refresh: 0, retry: 0, expire: 0, minimum: 0))))
        }
        if let udpSize {
            writer.uint8(0)
            writer.uint16(RecordType.opt.rawValue)
            writer.uint16(UInt16(udpSize))
            writer.uint32(UInt32(ednsVersion) << 16)
            let option = subnet.map { [0, 8, 0, UInt8($0.count)] + $0 } ?? []
            writer.uint16(UInt16(option.count))
            writer.append(option)
        }
        return writer.bytes
    }
}
