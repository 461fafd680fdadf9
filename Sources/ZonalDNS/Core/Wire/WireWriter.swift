/// Builds a DNS message: integers big-endian, names compressed against those already written
/// (RFC 1035 §4.1.4), and records that do not fit the size limit rolled back whole, so a
/// truncated message is still well formed.
struct WireWriter {
    private(set) var bytes: [UInt8]
    /// The size the message must stay within (the client's UDP size, or 65,535 over TCP).
    let limit: Int
    /// Name suffixes already in the message and where they start: compression targets.
    private var suffixes: [(name: ArraySlice<UInt8>, offset: Int)] = []

    init(limit: Int, capacity: Int = 512) {
        self.limit = limit
        bytes = []
        bytes.reserveCapacity(min(limit, capacity))
    }

    /// Where the message stands, to roll back to.
    struct Mark {
        fileprivate let count: Int
        fileprivate let suffixes: Int
    }

    var mark: Mark { Mark(count: bytes.count, suffixes: suffixes.count) }

    mutating func rollBack(to mark: Mark) {
        bytes.removeSubrange(mark.count...)
        suffixes.removeSubrange(mark.suffixes...)
    }

    var fits: Bool { bytes.count <= limit }

    mutating func uint8(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func uint16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func uint32(_ value: UInt32) {
        bytes.append(UInt8(value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func append<Bytes: Collection<UInt8>>(_ data: Bytes) {
        bytes.append(contentsOf: data)
    }

    mutating func setUInt16(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Writes a name, as a pointer to an earlier copy of its longest known suffix when
    /// `compress` allows; the suffixes written here become targets for later names.
    mutating func name(_ name: DNSName, compress: Bool = true) {
        let wire = name.wire
        var start = 0
        while wire[start] != 0 {
            let suffix = wire[start...]
            if compress, let earlier = suffixes.first(where: { DNSName.equalIgnoringCase($0.name, suffix) }) {
                uint16(0xC000 | UInt16(earlier.offset))
                return
            }
            if bytes.count < 0x4000 { suffixes.append((suffix, bytes.count)) }
            let length = Int(wire[start])
            bytes.append(contentsOf: wire[start...(start + length)])
            start += length + 1
        }
        bytes.append(0)
    }

    /// Lets later names point at a name already in the message at `offset` (the question,
    /// copied as received).
    mutating func registerName(_ name: DNSName, at offset: Int) {
        let wire = name.wire
        var start = 0
        while wire[start] != 0, offset + start < 0x4000 {
            suffixes.append((wire[start...], offset + start))
            start += Int(wire[start]) + 1
        }
    }

    /// A whole record: owner, type, class, TTL and data. Returns false, having written nothing,
    /// when it does not fit.
    @discardableResult
    mutating func record(_ record: ResourceRecord, owner: DNSName? = nil) -> Bool {
        let start = mark
        name(owner ?? record.name)
        uint16(record.type.rawValue)
        uint16(record.recordClass.rawValue)
        uint32(record.ttl)
        let lengthOffset = bytes.count
        uint16(0)
        record.data.write(to: &self)
        setUInt16(UInt16(clamping: bytes.count - lengthOffset - 2), at: lengthOffset)
        guard fits else {
            rollBack(to: start)
            return false
        }
        return true
    }
}
