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
        guard (1...2).contains(parts.count), let address = IPAddressBytes.parse(String(parts[0])) else { return nil }
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

    public var description: String { "\(IPAddressBytes.text(address))/\(length)" }
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

/// IPv4 and IPv6 addresses between text and bytes, strictly (no zone index, no leading zeros
/// in IPv4 parts that could be read as octal).
public enum IPAddressBytes {
    public static func parse(_ text: String) -> [UInt8]? {
        text.contains(":") ? parseIPv6(text) : parseIPv4(text)
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber), part == "0" || !part.hasPrefix("0"),
                let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.allSatisfy(\.isASCII) else { return nil }
        let gaps = text.ranges(of: "::")
        guard gaps.count <= 1 else { return nil }
        let halves = gaps.first.map { [String(text[..<$0.lowerBound]), String(text[$0.upperBound...])] } ?? [text]
        func groups(_ part: String) -> [UInt8]? {
            guard !part.isEmpty else { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)) else { return nil }
                    bytes += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    public static func text(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map { String($0) }.joined(separator: ".") }
        let groups = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        // The longest run of two or more zero groups becomes `::` (RFC 5952).
        var best = (start: -1, length: 0)
        var index = 0
        while index < groups.count {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            let start = index
            while index < groups.count, groups[index] == 0 { index += 1 }
            if index - start > best.length, index - start >= 2 { best = (start, index - start) }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        return hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.length)...].joined(separator: ":")
    }
}
