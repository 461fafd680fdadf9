import Foundation
import ZonalCore

/// A repository directory: immutable files written whole through ``DurableFile`` (a crash leaves
/// either the complete file or none), and reads by offset. Only its owner can enter it or read
/// its files (directories 0700, files 0400): keys, locks and packs are nobody else's business.
public struct LocalStore: RepositoryStore {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public var location: String { root }

    public func path(_ name: String) -> String { "\(root)/\(name)" }

    private static var directoryAttributes: [FileAttributeKey: Any] { [.posixPermissions: 0o700] }

    public func isEmpty() -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).isEmpty
    }

    public func prepare() async throws(BackupError) {
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: Self.directoryAttributes) } catch {
            throw .io("cannot create \(root): \(error.localizedDescription)")
        }
    }

    public func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: path(name))
    }

    public func write(_ name: String, _ bytes: [UInt8]) async throws(BackupError) {
        let target = try parentMade(for: name)
        do { try DurableFile.write(bytes, to: target, permissions: 0o400) } catch { throw .io(error.description) }
    }

    public func upload(_ name: String, fromFile source: String) async throws(BackupError) {
        let target = try parentMade(for: name)
        let pieces = try FilePieces(path: source)
        defer { pieces.close() }
        try await writeDurably(target, permissions: 0o400) { writer in
            while case let piece = try pieces.next(Self.transferPiece), !piece.isEmpty {
                try writer.append(piece)
            }
        }
    }

    public func size(_ name: String) -> Int64? {
        var info = stat()
        guard stat(path(name), &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// The path of `name`, its directory created (and made durable in its parent) when missing.
    private func parentMade(for name: String) throws(BackupError) -> String {
        let target = path(name)
        let directory = (target as NSString).deletingLastPathComponent
        do {
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: Self.directoryAttributes)
                // A new directory is durable only once its parent says so.
                try DurableFile.syncDirectory((directory as NSString).deletingLastPathComponent)
            }
        } catch {
            throw .io("cannot create \(directory): \(error)")
        }
        return target
    }

    public func read(_ name: String) async throws(BackupError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(name)) else {
            throw .io("cannot read \(path(name))")
        }
        return Array(data)
    }

    public func read(_ name: String, offset: Int, length: Int) async throws(BackupError) -> [UInt8] {
        let descriptor = open(path(name), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io("cannot open \(path(name)): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let result = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, length - done, off_t(offset + done)) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw .corrupt("\(path(name)) ends before byte \(offset + length)") }
            done += result
        }
        return bytes
    }

    public func list(_ name: String) -> [StoredFile] {
        guard let enumerator = FileManager.default.enumerator(atPath: path(name)) else { return [] }
        return enumerator.compactMap { entry -> StoredFile? in
            guard let entry = entry as? String, !DurableFile.isTemporary(entry) else { return nil }
            var info = stat()
            guard stat("\(path(name))/\(entry)", &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            return StoredFile(name: entry, size: Int64(info.st_size))
        }.sorted { $0.name < $1.name }
    }

    public func removeTemporaries(under name: String) async throws(BackupError) -> (count: Int, bytes: Int64) {
        guard let enumerator = FileManager.default.enumerator(atPath: path(name)) else { return (0, 0) }
        var removed = (count: 0, bytes: Int64(0))
        for case let entry as String in enumerator where DurableFile.isTemporary(entry) {
            let temporary = "\(path(name))/\(entry)"
            var info = stat()
            guard lstat(temporary, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            guard unlink(temporary) == 0 || errno == ENOENT else { throw .io("cannot remove \(temporary): \(String(cString: strerror(errno)))") }
            removed.count += 1
            removed.bytes += Int64(info.st_size)
        }
        return removed
    }

    public func removeAll(under name: String) async throws(BackupError) {
        guard FileManager.default.fileExists(atPath: path(name)) else { return }
        do { try FileManager.default.removeItem(atPath: path(name)) } catch { throw .io("cannot remove \(path(name)): \(error.localizedDescription)") }
    }

    public func remove(_ name: String) async throws(BackupError) {
        guard unlink(path(name)) == 0 || errno == ENOENT else { throw .io("cannot remove \(path(name)): \(String(cString: strerror(errno)))") }
    }
}
