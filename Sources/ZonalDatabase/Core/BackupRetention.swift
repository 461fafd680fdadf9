import Foundation
import ZonalCore

/// Which base backups and archived WAL segments a ``Retention`` lets go. Pure: the list of what
/// exists and the time go in, what to delete comes out.
enum BackupRetention {
    /// The backups to delete, oldest first.
    static func expired(_ backups: [BaseBackupRecord], under retention: Retention, now: Date) -> [BaseBackupRecord] {
        let kept = Set(retention.apply(to: backups.map { ($0.name, $0.finishedAt) }, now: now).filter(\.keep).map(\.snapshot))
        return backups.filter { !kept.contains($0.name) }.sorted { $0.finishedAt < $1.finishedAt }
    }

    /// Archived segments no kept backup needs: those before the oldest kept backup's first
    /// segment. History files and anything unrecognised are kept.
    static func prunableSegments(_ names: [String], keptBackups: [BaseBackupRecord]) -> [String] {
        guard let oldest = keptBackups.compactMap({ WALSegmentName($0.startSegment) }).min() else { return [] }
        return names.filter { name in WALSegmentName(name).map { $0.number < oldest.number } ?? false }
    }
}

extension DatabaseSpec.Backup {
    /// `keep` and `keep_days` as the one retention model.
    public var retention: Retention {
        Retention(last: keep, within: keepDays > 0 ? .seconds(keepDays * 86_400) : nil)
    }
}
