import Foundation
import ZonalCore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the embedded coordinator's state on disk: a snapshot plus a journal of every change
/// since, each change fsync'd before it is acknowledged.
///
/// Files in the state directory:
/// - `snapshot`: `ZCSNAP01`, then length, CRC-32 and the JSON of a ``KeyValueStore/Snapshot``.
///   Written through ``DurableFile``, so it is never torn.
/// - `journal`: records of magic, length, payload CRC-32 and header CRC-32, then a JSON
///   ``JournalEntry``. A record cut short at the very end (a crash while appending, never
///   acknowledged) is dropped; any other damage stops the load with ``CoordinatorError/corruptState(path:reason:)``.
final class StoreJournal {
    enum Entry: Codable, Hashable {
        case put(key: String, value: [UInt8], lease: LeaseID?)
        case delete(key: String)
        case transaction(Transaction)
        case grantLease(ttl: Duration)
        case revokeLease(LeaseID)
        case compact(through: Int64)
    }

    static let snapshotMagic = Array("ZCSNAP01".utf8)
    static let recordMagic: UInt32 = 0x5A43_4A52  // "ZCJR"
    static let recordHeaderSize = 16

    let directory: String
    private var journalFD: Int32
    private(set) var entriesSinceSnapshot = 0
    /// A snapshot is written, and the journal emptied, after this many entries.
    var checkpointInterval = 10_000

    private var journalPath: String { "\(directory)/journal" }
    private var snapshotPath: String { "\(directory)/snapshot" }

    private init(directory: String, journalFD: Int32, entries: Int) {
        self.directory = directory
        self.journalFD = journalFD
        self.entriesSinceSnapshot = entries
    }

    deinit {
        close(journalFD)
    }

    /// Opens (or creates) the state in `directory` and rebuilds the store from it.
    static func open(directory: String, now: MonotonicInstant) throws(CoordinatorError) -> (StoreJournal, KeyValueStore) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .storage(path: directory, reason: "\(error.localizedDescription)")
        }
        // A snapshot being written when the process died is a temporary file nobody will finish.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where DurableFile.isTemporary(name) {
            unlink("\(directory)/\(name)")
        }
        var store = try loadSnapshot(path: "\(directory)/snapshot", now: now)
        let journalPath = "\(directory)/journal"
        let fd = Glibc.open(journalPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storage(path: journalPath, reason: String(cString: strerror(errno))) }
        let (entries, validLength) = try readJournal(fd: fd, path: journalPath)
        for (index, entry) in entries.enumerated() {
            do {
                try replay(entry, into: &store, now: now)
            } catch {
                close(fd)
                throw .corruptState(path: journalPath, reason: "record \(index + 1) cannot be applied: \(error)")
            }
        }
        // Drop a torn last record, so the next append starts on a record boundary.
        guard ftruncate(fd, off_t(validLength)) == 0, lseek(fd, 0, SEEK_END) >= 0 else {
            close(fd)
            throw .storage(path: journalPath, reason: String(cString: strerror(errno)))
        }
        store.restartLeaseClocks(now: now)
        return (StoreJournal(directory: directory, journalFD: fd, entries: entries.count), store)
    }

    /// Applies a journal entry to a store; the runtime uses the same function for live changes.
    @discardableResult
    static func replay(_ entry: Entry, into store: inout KeyValueStore, now: MonotonicInstant) throws(CoordinatorError) -> [WatchEvent] {
        switch entry {
        case .put(let key, let value, let lease): return try store.put(key, value: value, lease: lease)
        case .delete(let key): return store.delete(key)
        case .transaction(let transaction): return try store.apply(transaction).1
        case .grantLease(let ttl): _ = store.grantLease(ttl: ttl, now: now); return []
        case .revokeLease(let id): return try store.revokeLease(id)
        case .compact(let revision): try store.compact(through: revision); return []
        }
    }

    /// Appends one entry and fsyncs it; only then may the change be acknowledged.
    func append(_ entry: Entry) throws(CoordinatorError) {
        let payload: [UInt8]
        do {
            payload = Array(try JSONEncoder().encode(entry))
        } catch {
            throw .storage(path: journalPath, reason: "cannot encode entry: \(error)")
        }
        var header = [UInt8]()
        header.appendLittleEndian(Self.recordMagic)
        header.appendLittleEndian(UInt32(payload.count))
        header.appendLittleEndian(CRC32.checksum(payload))
        header.appendLittleEndian(CRC32.checksum(header))
        try durably { () throws(DurableFileError) in try DurableFile.writeAll(header + payload, to: journalFD, path: journalPath) }
        guard fsync(journalFD) == 0 else { throw .storage(path: journalPath, reason: "fsync: \(String(cString: strerror(errno)))") }
        entriesSinceSnapshot += 1
    }

    /// Writes a snapshot of `store` and empties the journal, when enough entries piled up.
    func checkpointIfDue(_ store: KeyValueStore) throws(CoordinatorError) {
        guard entriesSinceSnapshot >= checkpointInterval else { return }
        try checkpoint(store)
    }

    func checkpoint(_ store: KeyValueStore) throws(CoordinatorError) {
        let payload: [UInt8]
        do {
            payload = Array(try JSONEncoder().encode(store.snapshot))
        } catch {
            throw .storage(path: snapshotPath, reason: "cannot encode snapshot: \(error)")
        }
        var bytes = Self.snapshotMagic
        bytes.appendLittleEndian(UInt64(payload.count))
        bytes.appendLittleEndian(CRC32.checksum(payload))
        bytes += payload
        try durably { () throws(DurableFileError) in try DurableFile.write(bytes, to: snapshotPath) }
        guard ftruncate(journalFD, 0) == 0, lseek(journalFD, 0, SEEK_SET) >= 0, fsync(journalFD) == 0 else {
            throw .storage(path: journalPath, reason: String(cString: strerror(errno)))
        }
        entriesSinceSnapshot = 0
    }

    // MARK: Reading

    private static func loadSnapshot(path: String, now: MonotonicInstant) throws(CoordinatorError) -> KeyValueStore {
        guard FileManager.default.fileExists(atPath: path) else { return KeyValueStore() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .storage(path: path, reason: "cannot read the file")
        }
        let bytes = Array(data)
        let headerSize = snapshotMagic.count + 12
        guard bytes.count >= headerSize, Array(bytes[..<snapshotMagic.count]) == snapshotMagic else {
            throw .corruptState(path: path, reason: "not a Zonal coordinator snapshot (bad header)")
        }
        let length = Int(bytes.readLittleEndian(UInt64.self, at: snapshotMagic.count))
        let checksum = bytes.readLittleEndian(UInt32.self, at: snapshotMagic.count + 8)
        guard bytes.count == headerSize + length else {
            throw .corruptState(path: path, reason: "the snapshot is \(bytes.count) bytes, its header says \(headerSize + length)")
        }
        let payload = Array(bytes[headerSize...])
        guard CRC32.checksum(payload) == checksum else {
            throw .corruptState(path: path, reason: "the snapshot's checksum does not match its contents")
        }
        do {
            return KeyValueStore(snapshot: try JSONDecoder().decode(KeyValueStore.Snapshot.self, from: Data(payload)), now: now)
        } catch {
            throw .corruptState(path: path, reason: "the snapshot cannot be decoded: \(error)")
        }
    }

    /// Every intact record, and the length of the journal up to the last of them.
    private static func readJournal(fd: Int32, path: String) throws(CoordinatorError) -> ([Entry], Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw .storage(path: path, reason: "cannot read the file") }
        let bytes = Array(data)
        var entries: [Entry] = []
        var offset = 0
        while offset < bytes.count {
            let remaining = bytes.count - offset
            guard remaining >= recordHeaderSize else { break }  // torn header at the end
            let header = Array(bytes[offset..<offset + 12])
            guard bytes.readLittleEndian(UInt32.self, at: offset) == recordMagic,
                  CRC32.checksum(header) == bytes.readLittleEndian(UInt32.self, at: offset + 12) else {
                throw .corruptState(path: path, reason: "record \(entries.count + 1) at byte \(offset) has a damaged header")
            }
            let length = Int(bytes.readLittleEndian(UInt32.self, at: offset + 4))
            guard remaining >= recordHeaderSize + length else { break }  // torn payload at the end
            let payload = Array(bytes[offset + recordHeaderSize..<offset + recordHeaderSize + length])
            guard CRC32.checksum(payload) == bytes.readLittleEndian(UInt32.self, at: offset + 8) else {
                throw .corruptState(path: path, reason: "record \(entries.count + 1) at byte \(offset) fails its checksum")
            }
            do {
                entries.append(try JSONDecoder().decode(Entry.self, from: Data(payload)))
            } catch {
                throw .corruptState(path: path, reason: "record \(entries.count + 1) at byte \(offset) cannot be decoded: \(error)")
            }
            offset += recordHeaderSize + length
        }
        return (entries, offset)
    }

    // MARK: Writing

    private func durably(_ step: () throws(DurableFileError) -> Void) throws(CoordinatorError) {
        do { try step() } catch { throw .storage(path: error.path, reason: error.description) }
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
