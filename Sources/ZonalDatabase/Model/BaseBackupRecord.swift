import Foundation

/// What Zonal records beside each base backup (`base/<name>.json`): enough to choose the
/// backup for a point in time and to know which archived WAL it needs.
public struct BaseBackupRecord: Codable, Sendable, Hashable {
    /// The backup's directory name under `base/` (its start time, UTC).
    public var name: String
    public var node: String
    public var startedAt: Date
    public var finishedAt: Date
    /// The first WAL segment recovery from this backup reads.
    public var startSegment: String

    public init(name: String, node: String, startedAt: Date, finishedAt: Date, startSegment: String) {
        self.name = name
        self.node = node
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.startSegment = startSegment
    }
}

/// A WAL segment file name: timeline, then log and segment number (`000000010000000000000003`).
public struct WALSegmentName: Hashable, Sendable, Comparable {
    public var timeline: UInt32
    /// Log and segment number together: the position in WAL regardless of timeline.
    public var number: UInt64

    public init?(_ name: String) {
        guard name.count == 24, name.allSatisfy(\.isHexDigit),
            let timeline = UInt32(name.prefix(8), radix: 16),
            let log = UInt64(name.dropFirst(8).prefix(8), radix: 16),
            let segment = UInt64(name.suffix(8), radix: 16)
        else { return nil }
        self.timeline = timeline
        self.number = log << 32 | segment
    }

    /// Ordered by position in WAL; timelines only break ties.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.number, lhs.timeline) < (rhs.number, rhs.timeline)
    }
}
