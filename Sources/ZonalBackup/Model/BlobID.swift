import ZonalCore

/// A blob's name: HMAC-SHA-256 of its plain content under the repository's naming key, so equal
/// content gets one name (deduplication) and the name tells nothing about the content to
/// someone without the key.
public struct BlobID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a blob id has 32 bytes")
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = [UInt8](hex: hex) else { return nil }
        self.bytes = bytes
    }

    public var hex: String { bytes.hex }

    public var description: String { String(hex.prefix(12)) }

    public static func < (lhs: BlobID, rhs: BlobID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BlobID(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a blob id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
