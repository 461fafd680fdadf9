import Foundation

/// What Zonal records beside each base backup (`base/<name>.json`): enough to choose the
/// backup for a point in time and to know which archived WAL it needs.
public struct BaseBackupRecord: Codable, Sendable, Hashable {
    /// The backup's name under `base/` (its start time, UTC).
    public var name: String
    public var node: String
    public var startedAt: Date
    public var finishedAt: Date
    /// The first WAL segment recovery from this backup reads.
    public var startSegment: String
    /// The files stored under `base/<name>/` (`base.tar`, `pg_wal.tar`, `backup_manifest`);
    /// nil for a backup kept as a plain data directory.
    public var files: [File]?

    /// One file of a base backup and its SHA-256, checked when the backup is fetched back.
    public struct File: Codable, Sendable, Hashable {
        public var name: String
        public var sha256: String

        public init(name: String, sha256: String) {
            self.name = name
            self.sha256 = sha256
        }
    }

    public init(name: String, node: String, startedAt: Date, finishedAt: Date, startSegment: String, files: [File]? = nil) {
        self.name = name
        self.node = node
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.startSegment = startSegment
        self.files = files
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
