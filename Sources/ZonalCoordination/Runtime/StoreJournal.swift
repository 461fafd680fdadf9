import Foundation
import ZonalCore

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the embedded coordinator's state on disk: a snapshot plus a journal of every change
/// since, each change fsync'd before it is acknowledged.
///
/// Files in the state directory:
/// - `snapshot`: `ZCSNAP02`, then the sequence number of the last entry it holds, length,
///   CRC-32 and the JSON of a ``KeyValueStore/Snapshot``. Written through ``DurableFile``, so it
///   is never torn. (`ZCSNAP01` snapshots, without the sequence number, are still read.)
/// - `journal`: records of magic, length, payload CRC-32 and header CRC-32, then the JSON of a
///   ``Record``: the entry and its sequence number.
///
/// Recovery starts after a crash at any point: entries the snapshot already holds (a crash
/// between writing a snapshot and emptying the journal) are skipped by their sequence number; a
/// record cut short at the very end (a crash while appending, never acknowledged) is dropped; a
/// failed append is cut back at once so no torn record is ever followed by another. Any other
/// damage stops the load with ``CoordinatorError/corruptState(path:reason:)``.
final class StoreJournal {
    enum Entry: Codable, Hashable {
        case put(key: String, value: [UInt8], lease: LeaseID?)
        case delete(key: String)
        case transaction(Transaction)
        case grantLease(ttl: Duration)
        case revokeLease(LeaseID)
        case compact(through: Int64)
    }

    /// One journal record: an entry and its place in the sequence of all entries ever written.
    struct Record: Codable, Hashable {
        var sequence: Int64
        var entry: Entry
    }

    static let snapshotMagic = Array("ZCSNAP02".utf8)
    static let firstSnapshotMagic = Array("ZCSNAP01".utf8)
    static let recordMagic: UInt32 = 0x5A43_4A52  // "ZCJR"
    static let recordHeaderSize = 16
    /// The largest record a journal may hold; a length field above it is damage, not a record.
    static let maximumRecordSize = 64 << 20

    let directory: String
    private let files: any JournalFiles
    private var journalFD: Int32
    /// Where the last intact record ends: appends start here, failed ones are cut back to it.
    private var length: Int
    /// The sequence number of the last entry written.
    private(set) var sequence: Int64
    private(set) var entriesSinceSnapshot = 0
    private(set) var bytesSinceSnapshot = 0
    /// Set when a failed append could not be cut back: later appends would follow a torn
    /// record, so they are refused until a restart repairs the journal.
    private var damage: String?
    /// Why the last checkpoint failed, while it keeps failing; retried on the next entry.
    private(set) var checkpointFailure: CoordinatorError?
    /// A snapshot is written, and the journal emptied, after this many entries…
    var checkpointInterval = 10_000
    /// …or once the journal holds this many bytes, whichever comes first.
    var checkpointBytes = 64 << 20

    private var journalPath: String { "\(directory)/journal" }
    private var snapshotPath: String { "\(directory)/snapshot" }

    private init(directory: String, files: any JournalFiles, journalFD: Int32, length: Int, sequence: Int64, entries: Int) {
        self.directory = directory
        self.files = files
        self.journalFD = journalFD
        self.length = length
        self.sequence = sequence
        self.entriesSinceSnapshot = entries
        self.bytesSinceSnapshot = length
    }

    deinit {
        close(journalFD)
    }

    /// Opens (or creates) the state in `directory` and rebuilds the store from it.
    static func open(directory: String, now: MonotonicInstant, files: any JournalFiles = SystemJournalFiles()) throws(CoordinatorError) -> (
        StoreJournal, KeyValueStore
    ) {
        do {
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try DurableFile.syncDirectory((directory as NSString).deletingLastPathComponent)
            }
        } catch {
            throw .storage(path: directory, reason: "\(error)")
        }
        // A snapshot being written when the process died is a temporary file nobody will finish.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where DurableFile.isTemporary(name) {
            unlink("\(directory)/\(name)")
        }
        var (store, snapshotSequence) = try loadSnapshot(path: "\(directory)/snapshot", now: now)
        let journalPath = "\(directory)/journal"
        let fd = Glibc.open(journalPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storage(path: journalPath, reason: String(cString: strerror(errno))) }
        do throws(CoordinatorError) {
            let (records, validLength) = try readJournal(path: journalPath)
            var sequence = snapshotSequence
            var pending = 0
            for (index, record) in records.enumerated() {
                // Already in the snapshot: a crash came between writing it and emptying the journal.
                if let number = record.sequence, number <= snapshotSequence { continue }
                do {
                    try replay(record.entry, into: &store, now: now)
                } catch {
                    throw .corruptState(path: journalPath, reason: "record \(index + 1) cannot be applied: \(error)")
                }
                sequence = record.sequence ?? sequence + 1
                pending += 1
            }
            // Drop a torn last record, so the next append starts on a record boundary.
            do { try files.truncate(fd, to: validLength, path: journalPath) } catch { throw .storage(path: error.path, reason: error.description) }
            store.restartLeaseClocks(now: now)
            return (StoreJournal(directory: directory, files: files, journalFD: fd, length: validLength, sequence: sequence, entries: pending), store)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Applies a journal entry to a store; the runtime uses the same function for live changes.
    @discardableResult
    static func replay(_ entry: Entry, into store: inout KeyValueStore, now: MonotonicInstant) throws(CoordinatorError) -> [WatchEvent] {
        switch entry {
        case .put(let key, let value, let lease): return try store.put(key, value: value, lease: lease)
        case .delete(let key): return store.delete(key)
        case .transaction(let transaction): return try store.apply(transaction).1
        case .grantLease(let ttl):
            _ = store.grantLease(ttl: ttl, now: now)
            return []
        case .revokeLease(let id): return try store.revokeLease(id)
        case .compact(let revision):
            try store.compact(through: revision)
            return []
        }
    }

    /// Appends one entry and fsyncs it; only then may the change be acknowledged. When the
    /// write or the fsync fails (a full disk, an I/O error), the journal is cut back to where it
    /// was, so the entry is surely not there and the next append starts on a record boundary.
    func append(_ entry: Entry) throws(CoordinatorError) {
        if let damage { throw .storage(path: journalPath, reason: damage) }
        let payload: [UInt8]
        do {
            payload = Array(try JSONEncoder().encode(Record(sequence: sequence + 1, entry: entry)))
        } catch {
            throw .storage(path: journalPath, reason: "cannot encode entry: \(error)")
        }
        guard payload.count <= Self.maximumRecordSize else {
            throw .rejected("a change of \(payload.count) bytes is larger than the journal's limit of \(Self.maximumRecordSize)")
        }
        var record = [UInt8]()
        record.appendLittleEndian(Self.recordMagic)
        record.appendLittleEndian(UInt32(payload.count))
        record.appendLittleEndian(CRC32.checksum(payload))
        record.appendLittleEndian(CRC32.checksum(record))
        record += payload
        do {
            try files.append(record, to: journalFD, path: journalPath)
            try files.sync(journalFD, path: journalPath)
        } catch {
            cutBack(after: error)
            throw .storage(path: error.path, reason: error.description)
        }
        length += record.count
        sequence += 1
        entriesSinceSnapshot += 1
        bytesSinceSnapshot += record.count
    }

    private func cutBack(after failure: DurableFileError) {
        do {
            try files.truncate(journalFD, to: length, path: journalPath)
        } catch {
            damage = "an append failed (\(failure.reason)) and could not be cut back (\(error.reason)); restart the coordinator to repair the journal"
        }
    }

    /// Writes a snapshot of `store` and empties the journal, when enough entries or bytes piled
    /// up. Never throws: the change that triggered it is already durable and applied, and must
    /// not be reported as failed. A failure is kept in ``checkpointFailure`` and retried.
    func checkpointIfDue(_ store: KeyValueStore) {
        guard entriesSinceSnapshot >= checkpointInterval || bytesSinceSnapshot >= checkpointBytes else { return }
        do {
            try checkpoint(store)
            checkpointFailure = nil
        } catch {
            checkpointFailure = error
        }
    }

    /// Writes a snapshot holding every entry up to ``sequence``, then empties the journal. A
    /// crash between the two leaves entries the snapshot holds; they are skipped on load.
    func checkpoint(_ store: KeyValueStore) throws(CoordinatorError) {
        let payload: [UInt8]
        do {
            payload = Array(try JSONEncoder().encode(store.snapshot))
        } catch {
            throw .storage(path: snapshotPath, reason: "cannot encode snapshot: \(error)")
        }
        var bytes = Self.snapshotMagic
        bytes.appendLittleEndian(UInt64(sequence))
        bytes.appendLittleEndian(UInt64(payload.count))
        bytes.appendLittleEndian(CRC32.checksum(payload))
        bytes += payload
        do {
            try files.replace(snapshotPath, with: bytes)
            try files.truncate(journalFD, to: 0, path: journalPath)
            length = 0
            try files.sync(journalFD, path: journalPath)
        } catch {
            throw .storage(path: error.path, reason: error.description)
        }
        entriesSinceSnapshot = 0
        bytesSinceSnapshot = 0
    }

    // MARK: Reading

    /// The store a snapshot holds and the sequence number of its last entry (0 without one).
    private static func loadSnapshot(path: String, now: MonotonicInstant) throws(CoordinatorError) -> (KeyValueStore, Int64) {
        guard FileManager.default.fileExists(atPath: path) else { return (KeyValueStore(), 0) }
        let bytes: [UInt8]
        do { bytes = try DurableFile.readAll(path) } catch { throw .storage(path: path, reason: error.description) }
        let magic = Array(bytes.prefix(snapshotMagic.count))
        let sequenced = magic == snapshotMagic
        guard sequenced || magic == firstSnapshotMagic else {
            throw .corruptState(path: path, reason: "not a Zonal coordinator snapshot (bad header)")
        }
        let headerSize = snapshotMagic.count + (sequenced ? 20 : 12)
        guard bytes.count >= headerSize else { throw .corruptState(path: path, reason: "the snapshot is cut short in its header") }
        var offset = snapshotMagic.count
        let sequence = sequenced ? bytes.readLittleEndian(UInt64.self, at: offset) : 0
        if sequenced { offset += 8 }
        let length = bytes.readLittleEndian(UInt64.self, at: offset)
        let checksum = bytes.readLittleEndian(UInt32.self, at: offset + 8)
        guard sequence <= UInt64(Int64.max), length == UInt64(bytes.count - headerSize) else {
            throw .corruptState(path: path, reason: "the snapshot is \(bytes.count) bytes, its header says \(length) after a \(headerSize)-byte header")
        }
        let payload = Array(bytes[headerSize...])
        guard CRC32.checksum(payload) == checksum else {
            throw .corruptState(path: path, reason: "the snapshot's checksum does not match its contents")
        }
        let snapshot: KeyValueStore.Snapshot
        do {
            snapshot = try JSONDecoder().decode(KeyValueStore.Snapshot.self, from: Data(payload))
        } catch {
            throw .corruptState(path: path, reason: "the snapshot cannot be decoded: \(error)")
        }
        // Counters that later writes increment must leave room to do so; revisions of keys must
        // not be from the future.
        let limit = Int64.max / 2
        guard (0..<limit).contains(snapshot.revision), (0..<limit).contains(snapshot.lastLeaseID),
            snapshot.keys.allSatisfy({ $0.modRevision <= snapshot.revision && $0.createRevision <= $0.modRevision }),
            snapshot.leases.allSatisfy({ $0.ttl > .zero && $0.ttl <= EmbeddedCoordinator.maximumLeaseTTL })
        else {
            throw .corruptState(
                path: path,
                reason: "the snapshot holds counters, revisions or lease TTLs out of range (revision \(snapshot.revision), last lease \(snapshot.lastLeaseID))")
        }
        return (KeyValueStore(snapshot: snapshot, now: now), Int64(sequence))
    }

    /// Every intact record (its sequence number nil in journals written before they had one),
    /// and the length of the journal up to the last of them.
    static func readJournal(path: String) throws(CoordinatorError) -> ([(sequence: Int64?, entry: Entry)], Int) {
        let bytes: [UInt8]
        do { bytes = try DurableFile.readAll(path) } catch { throw .storage(path: path, reason: error.description) }
        return try parseJournal(bytes, path: path)
    }

    /// The records of a journal's bytes; the fuzz target's entry point.
    static func parseJournal(_ bytes: [UInt8], path: String) throws(CoordinatorError) -> ([(sequence: Int64?, entry: Entry)], Int) {
        var records: [(sequence: Int64?, entry: Entry)] = []
        var offset = 0
        var previous: Int64?
        while offset < bytes.count {
            let remaining = bytes.count - offset
            guard remaining >= recordHeaderSize else { break }  // torn header at the end
            let header = Array(bytes[offset..<offset + 12])
            guard bytes.readLittleEndian(UInt32.self, at: offset) == recordMagic,
                CRC32.checksum(header) == bytes.readLittleEndian(UInt32.self, at: offset + 12)
            else {
                throw .corruptState(path: path, reason: "record \(records.count + 1) at byte \(offset) has a damaged header")
            }
            let length = Int(bytes.readLittleEndian(UInt32.self, at: offset + 4))
            guard length <= maximumRecordSize else {
                throw .corruptState(
                    path: path, reason: "record \(records.count + 1) at byte \(offset) claims \(length) bytes, above the limit of \(maximumRecordSize)")
            }
            guard remaining >= recordHeaderSize + length else { break }  // torn payload at the end
            let payload = Array(bytes[offset + recordHeaderSize..<offset + recordHeaderSize + length])
            guard CRC32.checksum(payload) == bytes.readLittleEndian(UInt32.self, at: offset + 8) else {
                throw .corruptState(path: path, reason: "record \(records.count + 1) at byte \(offset) fails its checksum")
            }
            let decoder = JSONDecoder()
            if let record = try? decoder.decode(Record.self, from: Data(payload)) {
                if let previous, record.sequence <= previous {
                    throw .corruptState(path: path, reason: "record \(records.count + 1) at byte \(offset) has sequence \(record.sequence) after \(previous)")
                }
                previous = record.sequence
                records.append((record.sequence, record.entry))
            } else {
                do {
                    records.append((nil, try decoder.decode(Entry.self, from: Data(payload))))
                } catch {
                    throw .corruptState(path: path, reason: "record \(records.count + 1) at byte \(offset) cannot be decoded: \(error)")
                }
            }
            offset += recordHeaderSize + length
        }
        return (records, offset)
    }
}

/// The journal's file operations: the one seam where tests inject a crash or a full disk at
/// any single write.
protocol JournalFiles: Sendable {
    /// Writes all of `bytes` at the descriptor's position.
    func append(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(DurableFileError)
    func sync(_ descriptor: Int32, path: String) throws(DurableFileError)
    /// Cuts the file to `length` and moves the descriptor's position there.
    func truncate(_ descriptor: Int32, to length: Int, path: String) throws(DurableFileError)
    /// Replaces the file at `path` atomically and durably (``DurableFile/write(_:to:permissions:owner:)``).
    func replace(_ path: String, with bytes: [UInt8]) throws(DurableFileError)
}

/// The real file system.
struct SystemJournalFiles: JournalFiles {
    func append(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(DurableFileError) {
        try DurableFile.writeAll(bytes, to: descriptor, path: path)
    }

    func sync(_ descriptor: Int32, path: String) throws(DurableFileError) {
        guard fsync(descriptor) == 0 else { throw DurableFileError(path: path, action: "sync", reason: String(cString: strerror(errno))) }
    }

    func truncate(_ descriptor: Int32, to length: Int, path: String) throws(DurableFileError) {
        guard ftruncate(descriptor, off_t(length)) == 0, lseek(descriptor, off_t(length), SEEK_SET) >= 0 else {
            throw DurableFileError(path: path, action: "truncate", reason: String(cString: strerror(errno)))
        }
    }

    func replace(_ path: String, with bytes: [UInt8]) throws(DurableFileError) {
        try DurableFile.write(bytes, to: path)
    }
}

/// CRC-32 (IEEE 802.3), for detecting damaged records; not a defence against tampering.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        (0..<8).reduce(UInt32(index)) { crc, _ in crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { crc, byte in table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        (0..<MemoryLayout<T>.size).reduce(T(0)) { value, index in value | (T(self[offset + index]) << (8 * index)) }
    }
}
