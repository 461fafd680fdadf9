/// Reads a DNS message field by field, every read checked against the end, so a short or
/// lying message ends in ``WireError`` rather than a read past the buffer.
struct WireReader {
    let bytes: [UInt8]
    private(set) var index: Int

    init(_ bytes: [UInt8], at index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var remaining: Int { bytes.count - index }
    var isAtEnd: Bool { index >= bytes.count }

    mutating func uint8() throws(WireError) -> UInt8 {
        guard index < bytes.count else { throw .truncated }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() throws(WireError) -> UInt16 {
        guard index + 2 <= bytes.count else { throw .truncated }
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    mutating func uint32() throws(WireError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .truncated }
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
    }

    mutating func bytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, index + count <= bytes.count else { throw .truncated }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    /// A name, following compression pointers (RFC 1035 §4.1.4). Each pointer must point
    /// backwards, which also rules out loops; the name must stay within 255 bytes.
    mutating func name() throws(WireError) -> DNSName {
        var wire: [UInt8] = []
        var cursor = index
        var jumped = false
        var limit = cursor
        while true {
            guard cursor < bytes.count else { throw .truncated }
            let length = bytes[cursor]
            switch length & 0xC0 {
            case 0x00:
                guard cursor + 1 + Int(length) <= bytes.count else { throw .truncated }
                wire.append(contentsOf: bytes[cursor...(cursor + Int(length))])
                guard wire.count <= DNSName.maximumWireLength else { throw .nameTooLong }
                cursor += 1 + Int(length)
                if length == 0 {
                    if !jumped { index = cursor }
                    return DNSName(validatedWire: wire)
                }
            case 0xC0:
                guard cursor + 2 <= bytes.count else { throw .truncated }
                let target = Int(length & 0x3F) << 8 | Int(bytes[cursor + 1])
                guard target < limit else { throw .badPointer }
                if !jumped { index = cursor + 2 }
                jumped = true
                limit = target
                cursor = target
            default:
                throw .badLabelType
            }
        }
    }
}

/// Why bytes are not a DNS message.
public enum WireError: Error, Hashable, CustomStringConvertible {
    case truncated
    case nameTooLong
    case badPointer
    case badLabelType
    case badRecordData(RecordType)
    case trailingBytes

    public var description: String {
        switch self {
        case .truncated: "the message ends inside a field"
        case .nameTooLong: "a name is longer than 255 bytes"
        case .badPointer: "a compression pointer does not point backwards"
        case .badLabelType: "a label has a reserved type"
        case .badRecordData(let type): "the data of a \(type) record does not match its type"
        case .trailingBytes: "bytes follow the last record"
        }
    }
}
