import Crypto
import Foundation

/// Gathers stored blobs into packs of about the repository's pack size and writes each pack
/// when it is full, then (at ``finish()``) one index file naming every blob written. A blob
/// is stored once: ``reserve(_:)`` admits each new id a single time, even when several files
/// carrying the same chunk are read at once.
actor PackWriter {
    private let repository: Repository
    private var pending: [UInt8] = []
    private var entries: [PackedBlob] = []
    private var reserved: Set<BlobID> = []
    private var written: [IndexFile.Pack] = []
    private(set) var storedBytes: Int64 = 0

    init(repository: Repository) {
        self.repository = repository
    }

    /// Whether `id` still has to be stored: not in the repository, and not taken by another task.
    func reserve(_ id: BlobID) -> Bool {
        guard repository.location(of: id) == nil else { return false }
        return reserved.insert(id).inserted
    }

    func add(_ id: BlobID, kind: PackedBlob.Kind, stored: [UInt8], plainLength: Int) throws(BackupError) {
        // Room for a full pack, its last blob and its header at once, so it never grows by doubling.
        if pending.isEmpty { pending.reserveCapacity(repository.config.packSize + stored.count + (1 << 20)) }
        entries.append(PackedBlob(id: id, kind: kind, offset: pending.count, length: stored.count, plainLength: plainLength))
        pending += stored
        storedBytes += Int64(stored.count)
        if pending.count >= repository.config.packSize { try flush() }
    }

    /// Writes the last pack and the index of all packs written, so the blobs can be found.
    func finish() throws(BackupError) {
        try flush()
        try repository.addToIndex(written)
        written = []
    }

    /// Writes the last pack and returns what all the packs hold, for an index written by the caller.
    func finishWithoutIndex() throws(BackupError) -> [IndexFile.Pack] {
        try flush()
        defer { written = [] }
        return written
    }

    /// A pack: the blobs, then their list sealed, then that list's length (4 bytes, little
    /// endian). Its name is the SHA-256 of its bytes, so a damaged pack is recognisable.
    /// The pack is assembled in `pending` itself, whose storage is kept for the next pack: one
    /// buffer of a pack's size for the whole backup.
    private func flush() throws(BackupError) {
        guard !entries.isEmpty else { return }
        let header = repository.key.seal(Array(try Repository.json(entries)))
        pending += header
        pending += withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) }
        let name = SHA256.hash(data: pending).hex
        try repository.store.write(Repository.packName(name), pending)
        written.append(IndexFile.Pack(pack: name, blobs: entries))
        pending.removeAll(keepingCapacity: true)
        entries = []
    }
}
