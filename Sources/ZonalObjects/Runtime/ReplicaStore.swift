import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import ZonalCore

/// The replicas of one storage node: object bytes in files under `objects/`, named by digest and
/// version (a key never names a file, so no key can reach outside the directory), written to a
/// temporary file, fsync'd, renamed and the directory fsync'd before the index row that makes
/// the version visible is committed. Every 1 MiB block has its SHA-256 in the index; reads
/// verify each block before sending it. File I/O runs on NIO's thread pool, never on the
/// cooperative pool.
public final class ReplicaStore: Sendable {
    /// What a node reports after receiving an upload: enough for the front end to compare the
    /// replicas and its own digest before it commits any of them.
    public struct Receipt: Sendable, Hashable, Codable {
        public var upload: String
        public var size: Int64
        public var sha256: String
    }

    public static let blockSize = 1 << 20

    public let directory: String
    let index: ReplicaIndex
    private let commits: CommitGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let pending = Mutex<[String: (receipt: Receipt, digests: [UInt8])]>([:])

    private init(directory: String, index: ReplicaIndex, threadPool: NIOThreadPool, logger: Logger) {
        self.directory = directory
        self.index = index
        self.commits = CommitGroup(index: index, threadPool: threadPool)
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Opens (creating when missing) the store in `directory`, on the thread pool.
    public static func load(directory: String, threadPool: NIOThreadPool = .singleton, logger: Logger) async throws(ObjectsError) -> ReplicaStore {
        let index: ReplicaIndex
        do {
            index = try await threadPool.runIfActive { () throws(ObjectsError) -> ReplicaIndex in
                for sub in ["tmp", "objects"] {
                    do {
                        try FileManager.default.createDirectory(
                            atPath: "\(directory)/\(sub)", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                    } catch {
                        throw .storage("cannot create \(directory)/\(sub): \(error)")
                    }
                }
                return try ReplicaIndex(path: "\(directory)/index.sqlite")
            }
        } catch let error as ObjectsError {
            throw error
        } catch {
            throw .storage("cannot open the replica store in \(directory): \(error)")
        }
        return ReplicaStore(directory: directory, index: index, threadPool: threadPool, logger: logger)
    }

    // MARK: Writing

    /// Writes `body` to a temporary file, fsync'd, and remembers it for ``commit(upload:version:)``.
    public func receive<Body: AsyncSequence>(_ body: Body) async throws(ObjectsError) -> Receipt where Body.Element == ByteBuffer {
        let upload = "up-\(UInt64.random(in: 0...UInt64.max))-\(UInt64.random(in: 0...UInt64.max))"
        let path = "\(directory)/tmp/\(upload)"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("cannot create \(path)", errno: errno) }
        var hasher = BlockHasher(blockSize: Self.blockSize)
        do throws(ObjectsError) {
            do {
                for try await buffer in body {
                    hasher = try await threadPool.runIfActive { [hasher] in
                        var hasher = hasher
                        try Self.write(buffer, to: descriptor, path: path)
                        buffer.withUnsafeReadableBytes { hasher.update($0) }
                        return hasher
                    }
                }
            } catch let error as ObjectsError {
                throw error
            } catch {
                throw ObjectsError.invalid("the upload stream broke off: \(error)")
            }
            try await run { if fsync(descriptor) != 0 { throw Self.failure("cannot sync \(path)", errno: errno) } }
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
        close(descriptor)
        let (digests, sha256, size) = hasher.finalize()
        let receipt = Receipt(upload: upload, size: size, sha256: sha256)
        pending.withLock { $0[upload] = (receipt, digests) }
        return receipt
    }

    /// Makes `version` visible: the upload's file renamed into place (none for a delete marker),
    /// the directory fsync'd, the index row committed — together with the commits that arrive
    /// meanwhile (``CommitGroup``). Superseded replicas are removed.
    public func commit(upload: String?, version: ObjectVersion) async throws(ObjectsError) {
        guard VersionID.isValid(version.versionID) else { throw .invalid("\(version.versionID) is not a version id (32 lower-case hex digits)") }
        var move: CommitGroup.Request.Move?
        var file: String?
        var digests: [UInt8] = []
        if let upload {
            guard let (receipt, blockDigests) = pending.withLock({ $0.removeValue(forKey: upload) }) else {
                throw .invalid("no upload \(upload) on this node (it restarted, or the upload was committed already)")
            }
            guard receipt.sha256 == version.sha256, receipt.size == version.size else {
                unlink("\(directory)/tmp/\(upload)")
                throw .invalid("upload \(upload) holds \(receipt.size) bytes with SHA-256 \(receipt.sha256), not what the version records")
            }
            let shard = Self.shard(version)
            let name = Self.fileName(version)
            move = .init(from: "\(directory)/tmp/\(upload)", to: "\(directory)/objects/\(shard)/\(name)", directory: "\(directory)/objects/\(shard)")
            file = "\(shard)/\(name)"
            digests = blockDigests
        }
        let stale = try await commits.commit(.init(move: move, entry: .init(version: version, file: file, blockDigests: digests)))
        await removeFiles(stale)
    }

    /// Replaces the record of a version this node holds with `version` (new tags); its file and
    /// digests stay. A version it does not hold, or a delete marker, is `notFound`.
    public func retag(_ version: ObjectVersion) async throws(ObjectsError) {
        try await index.retag(version)
    }

    /// Forgets an upload that will not be committed.
    public func discard(upload: String) {
        guard pending.withLock({ $0.removeValue(forKey: upload) }) != nil else { return }
        unlink("\(directory)/tmp/\(upload)")
    }

    // MARK: Reading

    /// The newest version of `key` (or `versionID`), delete markers included.
    public func version(bucket: String, key: String, versionID: String? = nil) async throws(ObjectsError) -> ObjectVersion? {
        try await index.entry(bucket: bucket, key: key, versionID: versionID)?.version
    }

    /// The bytes of a version in `range` (all of it when nil), each block read when the consumer
    /// asks for it and verified before it is handed on. A corrupt or missing file ends the
    /// stream with ``ObjectsError/corrupt(_:)`` and removes the replica from the index, so it is
    /// healed instead of served again.
    public func read(bucket: String, key: String, versionID: String, range: ClosedRange<Int64>?) async throws(ObjectsError) -> (ObjectVersion, ReplicaBytes) {
        guard let entry = try await index.entry(bucket: bucket, key: key, versionID: versionID), !entry.version.isDeleteMarker, let file = entry.file else {
            throw .notFound("no replica of \(bucket)/\(key) version \(versionID)")
        }
        let size = entry.version.size
        let bytes = ReplicaBytes(
            path: "\(directory)/objects/\(file)", size: size, range: range ?? 0...max(size - 1, 0), blockSize: Self.blockSize, digests: entry.blockDigests,
            threadPool: threadPool
        ) { [weak self] reason in
            await self?.quarantine(entry, reason: reason)
        }
        return (entry.version, bytes)
    }

    /// Up to `limit` newest versions per key after `after` with `prefix`, delete markers included.
    public func list(bucket: String, prefix: [UInt8], after: [UInt8], limit: Int) async throws(ObjectsError) -> (versions: [ObjectVersion], truncated: Bool) {
        try await index.list(bucket: bucket, prefix: prefix, after: after, limit: limit)
    }

    /// Every version of the keys with `prefix` after `after`, newest first within a key.
    public func versions(bucket: String, prefix: [UInt8], after: ListingMerge.Position?, limit: Int) async throws(ObjectsError) -> (
        versions: [ObjectVersion], truncated: Bool
    ) {
        try await index.versions(bucket: bucket, prefix: prefix, after: after, limit: limit)
    }

    /// `bucket`'s change feed after `seq`, as ``ReplicaIndex/changes(bucket:after:filter:limit:)``.
    public func changes(bucket: String, after seq: Int64, filter: ChangeFilter, limit: Int) async throws(ObjectsError) -> ChangePage {
        try await index.changes(bucket: bucket, after: seq, filter: filter, limit: limit)
    }

    /// What of `bucket`'s change feed after `seq` `filter` selects.
    public func backlog(bucket: String, after seq: Int64, filter: ChangeFilter) async throws(ObjectsError) -> Backlog {
        try await index.backlog(bucket: bucket, after: seq, filter: filter)
    }

    /// Removes every version of the keys starting with `prefix`.
    public func removeKeys(bucket: String, prefix: [UInt8]) async throws(ObjectsError) {
        await removeFiles(try await index.removeKeys(bucket: bucket, prefix: prefix))
    }

    /// Removes every replica of `bucket`.
    public func removeBucket(_ bucket: String) async throws(ObjectsError) {
        await removeFiles(try await index.removeBucket(bucket) + index.removeBucket(ObjectVersion.uploadsNamespace(of: bucket)))
    }

    /// Removes what a crash left: temporary uploads, and object files no index row names.
    public func removeLeftovers() async throws(ObjectsError) -> Int {
        let known = try await index.files()
        return try await run { [directory] in
            var removed = 0
            let manager = FileManager.default
            for name in (try? manager.contentsOfDirectory(atPath: "\(directory)/tmp")) ?? [] {
                if unlink("\(directory)/tmp/\(name)") == 0 { removed += 1 }
            }
            let objects = "\(directory)/objects"
            for path in (try? manager.subpathsOfDirectory(atPath: objects)) ?? [] where !known.contains(path) {
                var isDirectory: ObjCBool = false
                if manager.fileExists(atPath: "\(objects)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue, unlink("\(objects)/\(path)") == 0 {
                    removed += 1
                }
            }
            return removed
        }
    }

    // MARK: Helpers

    private func quarantine(_ entry: ReplicaIndex.Entry, reason: String) async {
        let version = entry.version
        logger.error(
            "replica removed, to be healed",
            metadata: ["bucket": "\(version.bucket)", "key": "\(version.key)", "version": "\(version.versionID)", "reason": "\(reason)"])
        if let file = try? await index.remove(bucket: version.bucket, key: version.key, versionID: version.versionID) {
            unlink("\(directory)/objects/\(file)")
        }
    }

    private func removeFiles(_ files: [String]) async {
        guard !files.isEmpty else { return }
        try? await run { [directory] in
            for file in files { unlink("\(directory)/objects/\(file)") }
        }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws(ObjectsError) -> T {
        do {
            return try await threadPool.runIfActive(work)
        } catch let error as ObjectsError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    /// The directory under `objects/` of a version's file: by the time in its id, about 19 hours
    /// per directory and 16.7 seconds per subdirectory, so writes made together land in one
    /// directory and share its fsync, and no directory grows past what 16 s of writes make.
    /// (Files of earlier stores sit under `objects/<2 hex digits>/`; the index names each file.)
    static func shard(_ version: ObjectVersion) -> String {
        let micros = UInt64(version.versionID.prefix(16), radix: 16) ?? 0
        return String(micros >> 36, radix: 16) + "/" + String((micros >> 24) & 0xFFF, radix: 16)
    }

    static func fileName(_ version: ObjectVersion) -> String {
        SHA256.hash(data: Array("\(version.bucket)\u{0}\(version.key)".utf8)).hex.prefix(40) + "-" + version.versionID
    }

    private static func write(_ buffer: ByteBuffer, to descriptor: Int32, path: String) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write \(path)", errno: errno)
                }
                offset += written
            }
        }
    }

    static func failure(_ what: String, errno code: Int32) -> ObjectsError {
        let reason = String(cString: strerror(code))
        return code == ENOSPC || code == EDQUOT ? .diskFull("\(what): \(reason)") : .storage("\(what): \(reason)")
    }
}

/// SHA-256 of a whole stream and of each fixed-size block of it.
struct BlockHasher: Sendable {
    let blockSize: Int
    private var whole = SHA256()
    private var block = SHA256()
    private var inBlock = 0
    private var digests: [UInt8] = []
    private var size: Int64 = 0

    init(blockSize: Int) {
        self.blockSize = blockSize
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        whole.update(bufferPointer: bytes)
        size += Int64(bytes.count)
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(blockSize - inBlock, rest.count)
            block.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            inBlock += take
            rest = rest.dropFirst(take)
            if inBlock == blockSize { closeBlock() }
        }
    }

    private mutating func closeBlock() {
        digests += Array(block.finalize())
        block = SHA256()
        inBlock = 0
    }

    /// The block digests (32 bytes each), the whole stream's SHA-256 in hex and its size.
    mutating func finalize() -> (digests: [UInt8], sha256: String, size: Int64) {
        if inBlock > 0 { closeBlock() }
        return (digests, whole.finalize().hex, size)
    }
}
