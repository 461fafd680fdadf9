import Foundation

/// Copies snapshots into a second repository (another region, another key): each blob is read
/// from the source, named and sealed again with the target's keys, and stored there unless the
/// target has it already; trees are rewritten with the new names. Snapshots copied before are
/// recognised and skipped.
public struct Copier: Sendable {
    public let source: Repository
    public let target: Repository

    public init(source: Repository, target: Repository) {
        self.source = source
        self.target = target
    }

    /// Copies `snapshots`; returns the new snapshots of the target.
    public func copy(_ snapshots: [Snapshot]) async throws(BackupError) -> [Snapshot] {
        // Shared locks on both sides: no prune deletes what is being read or deduplicated against.
        try await source.withLock(exclusive: false) { () async throws(BackupError) -> [Snapshot] in
            try await target.withLock(exclusive: false) { () async throws(BackupError) -> [Snapshot] in
                let already = try await Set(target.snapshots().compactMap(\.original))
                let writer = PackWriter(repository: target)
                var renamed: [BlobID: BlobID] = [:]
                var copied: [Snapshot] = []
                for snapshot in snapshots where !already.contains(snapshot.id) {
                    var copy = snapshot
                    copy.id = Repository.randomName()
                    copy.original = snapshot.id
                    copy.tree = try await copyTree(snapshot.tree, writer: writer, renamed: &renamed)
                    copied.append(copy)
                }
                try await writer.finish()
                for snapshot in copied { try await target.save(snapshot) }
                return copied
            }
        }
    }

    private func copyTree(_ id: BlobID, writer: PackWriter, renamed: inout [BlobID: BlobID]) async throws(BackupError) -> BlobID {
        if let done = renamed[id] { return done }
        var tree = try await source.loadTree(id)
        for index in tree.nodes.indices {
            if let content = tree.nodes[index].content {
                var copiedContent: [BlobID] = []
                for blob in content { copiedContent.append(try await copyBlob(blob, kind: .data, writer: writer, renamed: &renamed)) }
                tree.nodes[index].content = copiedContent
            }
            if let subtree = tree.nodes[index].subtree {
                tree.nodes[index].subtree = try await copyTree(subtree, writer: writer, renamed: &renamed)
            }
        }
        let newID = try await put(Array(try Repository.json(tree)), kind: .tree, writer: writer)
        renamed[id] = newID
        return newID
    }

    private func copyBlob(_ id: BlobID, kind: PackedBlob.Kind, writer: PackWriter, renamed: inout [BlobID: BlobID]) async throws(BackupError) -> BlobID {
        if let done = renamed[id] { return done }
        let newID = try await put(try source.load(id), kind: kind, writer: writer)
        renamed[id] = newID
        return newID
    }

    private func put(_ plain: [UInt8], kind: PackedBlob.Kind, writer: PackWriter) async throws(BackupError) -> BlobID {
        let id = target.key.blobID(of: plain)
        if await writer.reserve(id) {
            try await writer.add(id, kind: kind, stored: target.codec.encode(plain), plainLength: plain.count)
        }
        return id
    }
}
