import Foundation

/// Removes what no snapshot needs: packs with no needed blob are deleted, packs with some are
/// rewritten with only those, and the index is rewritten to match. Everything new is written
/// and synced before anything old is deleted, so a prune killed at any point leaves every kept
/// snapshot restorable. Takes the repository's exclusive lock.
public struct Pruner: Sendable {
    public let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    public struct Report: Sendable, Hashable {
        public var packsDeleted = 0
        public var packsRewritten = 0
        public var packsKept = 0
        public var blobsRemoved = 0
        public var bytesFreed: Int64 = 0
        /// Files a crashed backup was writing (counted in ``bytesFreed``).
        public var temporariesRemoved = 0
    }

    public func prune() async throws(BackupError) -> Report {
        return try await repository.withLock(exclusive: true) { () async throws(BackupError) -> Report in
            let needed = try await neededBlobs()
            let byPack = repository.blobsByPack()
            let packFiles = try await repository.store.list("data")
            let present = Set(packFiles.map(\.baseName))
            let packSizes = Dictionary(packFiles.map { ($0.baseName, $0.size) }) { first, _ in first }
            var report = Report()
            var keptPacks: [IndexFile.Pack] = []
            var doomed: [String] = present.subtracting(byPack.keys).sorted()
            let writer = PackWriter(repository: repository)
            for (pack, blobs) in byPack.sorted(by: { $0.key < $1.key }) {
                let used = blobs.filter(needed.contains)
                let entries = blobs.compactMap { repository.location(of: $0)?.blob }
                if used.count == blobs.count && present.contains(pack) {
                    keptPacks.append(IndexFile.Pack(pack: pack, blobs: entries))
                    report.packsKept += 1
                    continue
                }
                doomed.append(pack)
                report.blobsRemoved += blobs.count - used.count
                if used.isEmpty {
                    report.packsDeleted += 1
                } else {
                    report.packsRewritten += 1
                    for id in used.sorted() {
                        guard let location = repository.location(of: id) else { continue }
                        let stored = try await repository.store.read(Repository.packName(pack), offset: location.blob.offset, length: location.blob.length)
                        try await writer.add(id, kind: location.blob.kind, stored: stored, plainLength: location.blob.plainLength)
                    }
                }
            }
            let rewritten = try await writer.finishWithoutIndex()
            let oldIndexes = try await repository.store.list("index").map(\.name)
            try await repository.replaceIndex(with: keptPacks + rewritten)
            for name in oldIndexes { try await repository.store.remove("index/\(name)") }
            for pack in doomed {
                report.bytesFreed += packSizes[pack] ?? 0
                try await repository.store.remove(Repository.packName(pack))
            }
            // Writers of these directories hold shared locks, which this exclusive one excludes.
            for directory in ["data", "index", "snapshots"] {
                let removed = try await repository.store.removeTemporaries(under: directory)
                report.temporariesRemoved += removed.count
                report.bytesFreed += removed.bytes
            }
            return report
        }
    }

    /// Every blob a snapshot reaches: its trees and the chunks of its files.
    private func neededBlobs() async throws(BackupError) -> Set<BlobID> {
        var needed: Set<BlobID> = []
        for snapshot in try await repository.snapshots() {
            var pending = [snapshot.tree]
            while let tree = pending.popLast() {
                guard needed.insert(tree).inserted else { continue }
                for node in try await repository.loadTree(tree).nodes {
                    needed.formUnion(node.content ?? [])
                    if let subtree = node.subtree { pending.append(subtree) }
                }
            }
        }
        return needed
    }
}
