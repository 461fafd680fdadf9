/// A position in PostgreSQL's write-ahead log, written as PostgreSQL writes it (`16/B374D848`).
///
/// Every failover rule compares these: how far a standby is behind the primary, which candidate
/// has the most data, whether a node has every acknowledged commit.
public struct LogSequenceNumber: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// Parses PostgreSQL's `XXXXXXXX/XXXXXXXX` text form; nil when it is not one.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt32(parts[0], radix: 16), let low = UInt32(parts[1], radix: 16) else { return nil }
        value = UInt64(high) << 32 | UInt64(low)
    }

    public static let zero = LogSequenceNumber(0)

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// Bytes of WAL from `other` up to this position; 0 when `other` is ahead.
    public func bytes(after other: Self) -> UInt64 {
        value > other.value ? value - other.value : 0
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a WAL position: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Where a server is in WAL history: its timeline and its position on it.
public struct WALPosition: Hashable, Sendable, Codable, CustomStringConvertible {
    public var timeline: Int
    public var lsn: LogSequenceNumber

    public init(timeline: Int, lsn: LogSequenceNumber) {
        self.timeline = timeline
        self.lsn = lsn
    }

    public var description: String { "\(lsn) on timeline \(timeline)" }
}
