import ZonalCore

/// An address prefix (`10.1.0.0/16`, `2001:db8::/32`): what the client-subnet table routes by,
/// and what an EDNS Client Subnet option carries.
public struct AddressPrefix: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, bits past `length` zero.
    public let address: [UInt8]
    public let length: Int

    public var isIPv6: Bool { address.count == 16 }

    /// `address` cut to `length` bits; nil when the length does not suit the family.
    public init?(address: [UInt8], length: Int) {
        guard address.count == 4 || address.count == 16, (0...(address.count * 8)).contains(length) else { return nil }
        self.address = Self.masked(address, to: length)
        self.length = length
    }

    /// Parses `ADDRESS/LENGTH`, or a bare address as a host prefix.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddressText.bytes(String(parts[0])) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let length, parts.count == 1 || parts[1].allSatisfy(\.isASCII) else { return nil }
        self.init(address: address, length: length)
    }

    static func masked(_ address: [UInt8], to length: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bits = length - index * 8
            if bits >= 8 { return byte }
            if bits <= 0 { return 0 }
            return byte & ~UInt8(0xFF >> bits)
        }
    }

    /// Whether `other` (an address or a longer prefix of the same family) lies inside.
    public func contains(_ other: [UInt8], length otherLength: Int? = nil) -> Bool {
        guard other.count == address.count, (otherLength ?? other.count * 8) >= length else { return false }
        return Self.masked(other, to: length) == address
    }

    public var description: String { "\(IPAddressText.text(address))/\(length)" }
}

/// The EDNS Client Subnet option (RFC 7871): the part of the client's address a resolver
/// reveals, and in the answer the scope for which the answer holds.
public struct ClientSubnet: Hashable, Sendable {
    static let optionCode: UInt16 = 8

    /// The prefix as sent, widened to a full-length address of its family (zero-padded).
    public var source: AddressPrefix
    public var scopeLength: Int

    public init(source: AddressPrefix, scopeLength: Int) {
        self.source = source
        self.scopeLength = scopeLength
    }

    /// Reads the option's value; nil when the family is unknown, a length is out of range, the
    /// address has more bytes than the prefix needs, or bits past the prefix are set.
    init?(option value: ArraySlice<UInt8>) {
        guard value.count >= 4 else { return nil }
        let start = value.startIndex
        let family = UInt16(value[start]) << 8 | UInt16(value[start + 1])
        let sourceLength = Int(value[start + 2])
        let scopeLength = Int(value[start + 3])
        let width: Int
        switch family {
        case 1: width = 4
        case 2: width = 16
        default: return nil
        }
        let address = Array(value.dropFirst(4))
        guard sourceLength <= width * 8, scopeLength <= width * 8, address.count == (sourceLength + 7) / 8 else { return nil }
        let padded = address + Array(repeating: 0, count: width - address.count)
        guard AddressPrefix.masked(padded, to: sourceLength) == padded, let source = AddressPrefix(address: padded, length: sourceLength) else { return nil }
        self.source = source
        self.scopeLength = scopeLength
    }

    /// The option as it goes into an answer: the client's prefix with our scope.
    func write(to writer: inout WireWriter) {
        let addressBytes = (source.length + 7) / 8
        writer.uint16(Self.optionCode)
        writer.uint16(UInt16(4 + addressBytes))
        writer.uint16(source.isIPv6 ? 2 : 1)
        writer.uint8(UInt8(source.length))
        writer.uint8(UInt8(scopeLength))
        writer.append(source.address.prefix(addressBytes))
    }

    var wireLength: Int { 8 + (source.length + 7) / 8 }
}
