import Foundation

/// Which base backups and archived WAL segments a retention policy lets go. Pure: the list of
/// what exists and the time go in, what to delete comes out.
public struct BackupRetention: Sendable, Hashable {
    /// The newest this many base backups are kept.
    public var keep: Int
    /// Base backups younger than this many days are kept too.
    public var keepDays: Int

    public init(keep: Int, keepDays: Int) {
        self.keep = keep
        self.keepDays = keepDays
    }

    /// The backups to delete, oldest first.
    public func expired(_ backups: [BaseBackupRecord], now: Date) -> [BaseBackupRecord] {
        let newestFirst = backups.sorted { $0.finishedAt > $1.finishedAt }
        let cutoff = now.addingTimeInterval(-Double(keepDays) * 86_400)
        return newestFirst.enumerated().filter { index, backup in index >= keep && backup.finishedAt < cutoff }.map(\.element).reversed()
    }

    /// Archived segments no kept backup needs: those before the oldest kept backup's first
    /// segment. History files and anything unrecognised are kept.
    public static func prunableSegments(_ names: [String], keptBackups: [BaseBackupRecord]) -> [String] {
        guard let oldest = keptBackups.compactMap({ WALSegmentName($0.startSegment) }).min() else { return [] }
        return names.filter { name in WALSegmentName(name).map { $0.number < oldest.number } ?? false }
    }
}
