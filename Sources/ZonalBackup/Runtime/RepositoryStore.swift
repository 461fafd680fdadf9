import Crypto
import Foundation
import ZonalCore

/// Where a repository's files live: a local directory or an S3 bucket. Files are written whole
/// and never changed, so a store needs only whole-file writes that appear all at once, reads by
/// offset, listings and removal — what both a file system and S3 give.
public protocol RepositoryStore: Sendable {
    /// The location as the operator wrote it, for messages.
    var location: String { get }

    /// True when the store holds no file at all, so a repository may be created in it.
    func isEmpty() async throws(BackupError) -> Bool
    /// Makes the store ready to receive a new repository (a directory, a bucket).
    func prepare() async throws(BackupError)
    func exists(_ name: String) async throws(BackupError) -> Bool
    /// Writes `bytes` as `name` (for example `data/ab/ab12…`), durably and all at once.
    func write(_ name: String, _ bytes: [UInt8]) async throws(BackupError)
    func read(_ name: String) async throws(BackupError) -> [UInt8]
    /// `length` bytes of `name` from `offset`.
    func read(_ name: String, offset: Int, length: Int) async throws(BackupError) -> [UInt8]
    /// The files under directory `name` (recursively), named relative to it, sorted by name.
    func list(_ name: String) async throws(BackupError) -> [StoredFile]
    /// Removes `name`; removing what is already gone is not an error.
    func remove(_ name: String) async throws(BackupError)
    /// Removes what writes cut short by a crash left under directory `name` (stores whose
    /// writes cannot be cut short have none); returns their number and total size. Only for a
    /// holder of the exclusive lock, when no write can be in progress there.
    func removeTemporaries(under name: String) async throws(BackupError) -> (count: Int, bytes: Int64)
    /// Writes the local file at `path` as `name`, durably and all at once, reading it a piece at
    /// a time: files larger than memory (a database's base backup) go through here.
    func upload(_ name: String, fromFile path: String) async throws(BackupError)
    /// The size of `name`; nil when there is no such file.
    func size(_ name: String) async throws(BackupError) -> Int64?
    /// Removes directory `name` and everything under it; removing what is already gone is not an error.
    func removeAll(under name: String) async throws(BackupError)
}

extension RepositoryStore {
    /// Bytes read or sent at a time by ``upload(_:fromFile:)`` and ``download(_:toFile:owner:)``:
    /// what a transfer holds in memory.
    public static var transferPiece: Int { 32 << 20 }

    /// Fetches `name` into the local file `path` a piece at a time; `path` appears, durably and
    /// whole, only once every byte arrived.
    public func download(_ name: String, toFile path: String, owner: FileOwner? = nil) async throws(BackupError) {
        guard let size = try await size(name) else { throw .notFound("\(name) in \(location)") }
        try await writeDurably(path, owner: owner) { writer in
            var offset: Int64 = 0
            while offset < size {
                let length = Int(min(Int64(Self.transferPiece), size - offset))
                try writer.append(try await read(name, offset: Int(offset), length: length))
                offset += Int64(length)
            }
        }
    }
}

/// Writes the local file `path` with what `fill` appends: it appears, durably and whole, only
/// when `fill` returns (see ``DurableFile/Writer``); any failure becomes a ``BackupError``.
func writeDurably(
    _ path: String, permissions: mode_t = 0o600, owner: FileOwner? = nil, _ fill: (DurableFile.Writer) async throws -> Void
) async throws(BackupError) {
    do {
        let writer = try DurableFile.Writer(path: path, permissions: permissions, owner: owner)
        try await fill(writer)
        try writer.commit()
    } catch let error as DurableFileError {
        throw .io(error.description)
    } catch let error as BackupError {
        throw error
    } catch {
        throw .io("\(error)")
    }
}

/// A local file read from start to end a piece at a time.
public struct FilePieces {
    let path: String
    private let descriptor: Int32
    /// The file's size when it was opened.
    let size: Int64

    public init(path: String) throws(BackupError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            _ = Foundation.close(descriptor)
            throw .io("cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        size = Int64(info.st_size)
    }

    public func close() { _ = Foundation.close(descriptor) }

    /// The SHA-256 of the file at `path`, in hex, read a piece at a time.
    public static func sha256(of path: String) throws(BackupError) -> String {
        let pieces = try FilePieces(path: path)
        defer { pieces.close() }
        var hash = SHA256()
        while case let piece = try pieces.next(1 << 20), !piece.isEmpty { hash.update(data: piece) }
        return hash.finalize().hex
    }

    /// Up to `count` bytes from the current position; empty at the end of the file.
    public func next(_ count: Int) throws(BackupError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress! + filled, count - filled) }
            if result < 0 && errno == EINTR { continue }
            guard result >= 0 else { throw .io("cannot read \(path): \(String(cString: strerror(errno)))") }
            if result == 0 { break }
            filled += result
        }
        return filled == count ? bytes : Array(bytes.prefix(filled))
    }
}

/// A file in a store and its size.
public struct StoredFile: Sendable, Hashable {
    /// Relative to the listed directory, for example `ab/ab12…` under `data`.
    public var name: String
    public var size: Int64

    public init(name: String, size: Int64) {
        self.name = name
        self.size = size
    }

    /// The last path component: a pack's or snapshot's id.
    public var baseName: String { (name as NSString).lastPathComponent }
}

/// Opens the store a repository location names: `s3:http(s)://…` for S3, anything else a
/// local directory.
public enum RepositoryLocation {
    public static func store(_ location: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(BackupError) -> any RepositoryStore
    {
        guard let s3 = try S3Location(parsing: location) else { return LocalStore(root: location) }
        return S3Store(location: s3, credentials: try S3Credentials(environment: environment), region: S3Credentials.region(environment: environment))
    }
}
