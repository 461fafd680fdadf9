import Foundation

/// How Zonal writes a file that must survive a crash whole: under a temporary name in the same
/// directory, fsync'd, renamed over the target, then the directory fsync'd. A crash at any point
/// leaves the old file or the new one, never a torn mix, and once `write` returns the new one
/// is on disk. Repositories, the coordinator's snapshots and PostgreSQL's managed files all go
/// through here so that they share one proven sequence.
public enum DurableFile {
    /// The prefix of temporary names; readers of a directory skip such entries (they are what
    /// a crash mid-write leaves behind).
    public static let temporaryPrefix = ".tmp-"

    /// Whether the last component of `path` is a temporary left by ``write(_:to:permissions:owner:)``.
    public static func isTemporary(_ path: String) -> Bool {
        (path as NSString).lastPathComponent.hasPrefix(temporaryPrefix)
    }

    /// Replaces `path` with `bytes` atomically and durably.
    /// - Parameters:
    ///   - permissions: the new file's mode.
    ///   - owner: the account to give the file to before it appears (needs root); nil keeps the writer's.
    public static func write(
        _ bytes: some ContiguousBytes, to path: String, permissions: mode_t = 0o600,
        owner: FileOwner? = nil
    ) throws(DurableFileError) {
        let writer = try Writer(path: path, permissions: permissions, owner: owner)
        try writer.append(bytes)
        try writer.commit()
    }

    /// A file written piece by piece under its temporary name, for contents too large to hold
    /// in memory (a base backup fetched from S3): it replaces `path` only at ``commit()``, with
    /// the same sequence as ``DurableFile/write(_:to:permissions:owner:)``. Dropped without a
    /// commit, it leaves nothing behind.
    public final class Writer {
        public let path: String
        private let temporary: String
        private let owner: FileOwner?
        private var descriptor: Int32

        public init(path: String, permissions: mode_t = 0o600, owner: FileOwner? = nil) throws(DurableFileError) {
            let directory = (path as NSString).deletingLastPathComponent
            self.path = path
            self.owner = owner
            temporary = "\(directory.isEmpty ? "." : directory)/\(temporaryPrefix)\(UInt64.random(in: 0...UInt64.max))"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
            guard descriptor >= 0 else { throw DurableFileError(path: temporary, action: "create") }
        }

        deinit { discard() }

        public func append(_ bytes: some ContiguousBytes) throws(DurableFileError) {
            do throws(DurableFileError) {
                guard descriptor >= 0 else { throw DurableFileError(path: path, action: "write", reason: "the file was already closed") }
                try writeAll(bytes, to: descriptor, path: path)
            } catch {
                discard()
                throw error
            }
        }

        /// Syncs the file, renames it over `path` and syncs the directory.
        public func commit() throws(DurableFileError) {
            do throws(DurableFileError) {
                guard descriptor >= 0 else { throw DurableFileError(path: path, action: "commit", reason: "the file was already closed") }
                if let owner, fchown(descriptor, owner.uid, owner.gid) != 0 { throw DurableFileError(path: temporary, action: "give away") }
                guard fsync(descriptor) == 0 else { throw DurableFileError(path: path, action: "sync") }
                guard rename(temporary, path) == 0 else { throw DurableFileError(path: path, action: "move \(temporary) to") }
                close(descriptor)
                descriptor = -1
            } catch {
                discard()
                throw error
            }
            let directory = (path as NSString).deletingLastPathComponent
            try syncDirectory(directory.isEmpty ? "." : directory)
        }

        /// Closes and removes the temporary file; nothing happens to `path`.
        public func discard() {
            guard descriptor >= 0 else { return }
            close(descriptor)
            descriptor = -1
            unlink(temporary)
        }
    }

    /// The whole content of `path`, read with read(2) to its end. (Foundation's
    /// `FileManager.contents(atPath:)` leaks its buffer for some files on Linux, which the
    /// fuzzers' leak checker finds at every start of the coordinator.)
    public static func readAll(_ path: String) throws(DurableFileError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DurableFileError(path: path, action: "open") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DurableFileError(path: path, action: "read")
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Writes all of `bytes` at the descriptor's position, resuming after short writes and signals.
    /// `path` names the file in errors.
    public static func writeAll(_ bytes: some ContiguousBytes, to descriptor: Int32, path: String) throws(DurableFileError) {
        let failed: Bool = bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                written += result
            }
            return false
        }
        if failed { throw DurableFileError(path: path, action: "write") }
    }

    /// Makes everything written to the file system holding `path` durable (syncfs(2)): one call
    /// for a whole restored tree, instead of an fsync per file, before anything replaces or
    /// removes the tree it stands in for.
    public static func syncFileSystem(containing path: String) throws(DurableFileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DurableFileError(path: path, action: "open") }
        defer { close(descriptor) }
        guard linuxSyncFileSystem(descriptor) == 0 else { throw DurableFileError(path: path, action: "sync the file system of") }
    }

    /// Makes the directory's entries (a rename, a new file) durable.
    public static func syncDirectory(_ directory: String) throws(DurableFileError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DurableFileError(path: directory, action: "open") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw DurableFileError(path: directory, action: "sync") }
    }
}

/// The account a file is given to.
public struct FileOwner: Sendable, Hashable {
    public let uid: uid_t
    public let gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }
}

/// A file could not be written durably: which file, what step, and the system's reason.
public struct DurableFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    /// The step that failed, as a verb: "create", "write", "sync", "move … to".
    public let action: String
    public let reason: String

    public init(path: String, action: String, reason: String) {
        self.path = path
        self.action = action
        self.reason = reason
    }

    /// Captures `errno` as the reason.
    init(path: String, action: String) {
        self.path = path
        self.action = action
        self.reason = String(cString: strerror(errno))
    }

    public var description: String { "cannot \(action) \(path): \(reason)" }
}

/// syncfs(2), which Glibc's Swift module does not export (it is a GNU extension).
@_silgen_name("syncfs")
private func linuxSyncFileSystem(_ descriptor: Int32) -> Int32
