import Crypto
import Foundation
import ZonalCore

/// Gathers stored blobs into packs of about the repository's pack size and writes each pack
/// when it is full, then (at ``finish()``) one index file naming every blob written. A blob
/// is stored once: ``reserve(_:)`` admits each new id a single time, even when several files
/// carrying the same chunk are read at once.
///
/// A full pack is hashed and written (with its fsync, or its upload) by a task of its own while
/// the next pack fills, so the tasks compressing chunks never wait for the disk; at most one
/// pack is in writing while the next fills up.
actor PackWriter {
    private let repository: Repository
    private var pending: [UInt8] = []
    private var entries: [PackedBlob] = []
    private var reserved: Set<BlobID> = []
    private var writes: [Task<IndexFile.Pack, any Error>] = []
    private(set) var storedBytes: Int64 = 0

    init(repository: Repository) {
        self.repository = repository
    }

    /// Whether `id` still has to be stored: not in the repository, and not taken by another task.
    func reserve(_ id: BlobID) -> Bool {
        guard repository.location(of: id) == nil else { return false }
        return reserved.insert(id).inserted
    }

    func add(_ id: BlobID, kind: PackedBlob.Kind, stored: [UInt8], plainLength: Int) async throws(BackupError) {
        // Room for a full pack, its last blob and its header at once, so it never grows by doubling.
        if pending.isEmpty { pending.reserveCapacity(repository.parameters.packSize + stored.count + (1 << 20)) }
        entries.append(PackedBlob(id: id, kind: kind, offset: pending.count, length: stored.count, plainLength: plainLength))
        pending += stored
        storedBytes += Int64(stored.count)
        if pending.count >= repository.parameters.packSize { try await flush() }
    }

    /// Writes the last pack and the index of all packs written, so the blobs can be found.
    func finish() async throws(BackupError) {
        let packs = try await finishWithoutIndex()
        try await repository.addToIndex(packs)
    }

    /// Writes the last pack and returns what all the packs hold, for an index written by the caller.
    func finishWithoutIndex() async throws(BackupError) -> [IndexFile.Pack] {
        try await flush()
        var packs: [IndexFile.Pack] = []
        for write in writes { packs.append(try await Self.result(of: write)) }
        writes = []
        return packs
    }

    /// A pack: the blobs, then their list sealed, then that list's length (4 bytes, little
    /// endian). Its name is the SHA-256 of its bytes, so a damaged pack is recognisable.
    /// Hands the pack to a writing task, then waits for the pack before it to be written.
    private func flush() async throws(BackupError) {
        guard !entries.isEmpty else { return }
        var pack = pending
        let blobs = entries
        pending = []
        entries = []
        let header = repository.key.seal(Array(try Repository.json(blobs)))
        pack += header
        pack += withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) }
        let store = repository.store
        let earlier = writes.last
        writes.append(
            Task.detached {
                let name = SHA256.hash(data: pack).hex
                try await store.write(Repository.packName(name), pack)
                return IndexFile.Pack(pack: name, blobs: blobs)
            })
        if let earlier { _ = try await Self.result(of: earlier) }
    }

    private static func result(of write: Task<IndexFile.Pack, any Error>) async throws(BackupError) -> IndexFile.Pack {
        do { return try await write.value } catch let error as BackupError { throw error } catch { throw .io("writing a pack failed: \(error)") }
    }
}
