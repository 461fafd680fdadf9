import Foundation
import Synchronization
import ZonalCore

/// Writes a snapshot's tree into a directory, byte for byte, with modes, times, owners (when
/// run as root), symbolic links, hard links, named pipes, device nodes (as root) and holes:
/// chunks of zeros are skipped, not written, so sparse files stay sparse. Files are restored by
/// several tasks at once. Sockets are not recreated: one belongs to the program listening on it.
public struct Restorer: Sendable {
    public let repository: Repository
    /// Files restored at once. Default: one per core.
    public var parallelism: Int

    public init(repository: Repository, parallelism: Int = max(ProcessInfo.processInfo.activeProcessorCount, 2)) {
        self.repository = repository
        self.parallelism = max(parallelism, 1)
    }

    public struct Result: Sendable {
        public var files = 0
        public var directories = 0
        public var bytes: Int64 = 0
        /// What could not be put back, each with the path and the reason.
        public var warnings: [String] = []
    }

    /// Restores `snapshot` into `target`, which must not exist or be empty.
    public func restore(_ snapshot: Snapshot, into target: String) async throws(BackupError) -> Result {
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: target), !entries.isEmpty {
            throw .invalid("\(target) is not empty; restore into a new or empty directory (or use rollback)")
        }
        do { try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(target): \(error.localizedDescription)")
        }
        let state = RestoreState()
        try await restoreTree(snapshot.tree, into: target, state: state)
        // A restore that reports success is on disk, not only in the page cache.
        do { try DurableFile.syncFileSystem(containing: target) } catch { throw .io(error.description) }
        return state.result
    }

    func restoreTree(_ id: BlobID, into directory: String, state: RestoreState) async throws(BackupError) {
        let tree = try await repository.loadTree(id)
        // Files go first, in order of name, a few at a time; then subdirectories, each after its
        // own content. A hard link to a file met before is made once that file is complete: at
        // the end of this directory's files (the file is in it, or in a directory done earlier).
        let width = parallelism
        var failure: BackupError?
        var links: [(first: String, path: String)] = []
        await withTaskGroup(of: BackupError?.self) { group in
            var running = 0
            for node in tree.nodes where node.kind != .directory {
                let path = "\(directory)/\(node.name)"
                if node.kind == .file, let key = node.hardlink, let first = state.firstPath(for: key, is: path) {
                    links.append((first, path))
                    continue
                }
                if running == width, let result = await group.next() {
                    failure = failure ?? result
                    running -= 1
                }
                group.addTask {
                    do throws(BackupError) { try await restoreLeaf(node, at: path, state: state) } catch { return error }
                    return nil
                }
                running += 1
            }
            for await result in group { failure = failure ?? result }
        }
        if let failure { throw failure }
        for (first, path) in links {
            guard link(first, path) == 0 else { throw .io("cannot link \(path) to \(first): \(String(cString: strerror(errno)))") }
        }
        for node in tree.nodes where node.kind == .directory {
            let path = "\(directory)/\(node.name)"
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
            if let subtree = node.subtree { try await restoreTree(subtree, into: path, state: state) }
            try applyMetadata(node, at: path)
            state.countDirectory()
        }
    }

    private func restoreLeaf(_ node: Node, at path: String, state: RestoreState) async throws(BackupError) {
        switch node.kind {
        case .symlink:
            guard symlink(node.linkTarget ?? "", path) == 0 else { throw .io("cannot create link \(path): \(String(cString: strerror(errno)))") }
            if getuid() == 0 { lchown(path, node.uid, node.gid) }
            var times = Self.times(node.mtime)
            utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
        case .file:
            try await writeFile(node, at: path)
            try applyMetadata(node, at: path)
            state.countFile(bytes: node.size)
        case .fifo:
            guard mkfifo(path, 0o600) == 0 else { throw .io("cannot create the named pipe \(path): \(String(cString: strerror(errno)))") }
            try applyMetadata(node, at: path)
        case .characterDevice, .blockDevice:
            let type = node.kind == .characterDevice ? S_IFCHR : S_IFBLK
            guard mknod(path, type | 0o600, dev_t(node.device ?? 0)) == 0 else {
                // Only root may make device nodes: the rest of the tree is still worth having.
                guard errno == EPERM else { throw .io("cannot create the device node \(path): \(String(cString: strerror(errno)))") }
                state.warn("\(path): device node not created: \(String(cString: strerror(EPERM))) (only root may make one)")
                return
            }
            try applyMetadata(node, at: path)
        case .directory, .socket:
            break
        }
    }

    /// Writes a file's chunks at their offsets (known from the index) with up to `parallelism`
    /// chunks loaded, checked and written at once, so one large file keeps every core busy.
    private func writeFile(_ node: Node, at path: String) async throws(BackupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var pieces: [(id: BlobID, location: Repository.Location, offset: Int64)] = []
        var size: Int64 = 0
        for id in node.content ?? [] {
            guard let location = repository.location(of: id) else { throw .corrupt("\(path): chunk \(id) is in no index") }
            pieces.append((id, location, size))
            size += Int64(location.blob.plainLength)
        }
        guard size == node.size else { throw .corrupt("\(path): the snapshot's chunks make \(size) bytes, the file had \(node.size)") }
        var failure: BackupError?
        await withTaskGroup(of: BackupError?.self) { group in
            var next = 0
            func startNext() {
                guard failure == nil, next < pieces.count else { return }
                let piece = pieces[next]
                next += 1
                group.addTask { await write(piece.id, from: piece.location, at: piece.offset, to: descriptor, path: path) }
            }
            for _ in 0..<parallelism { startNext() }
            for await result in group {
                failure = failure ?? result
                startNext()
            }
        }
        if let failure { throw failure }
        // Sets the size, leaving skipped zero chunks as holes.
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw .io("cannot size \(path): \(String(cString: strerror(errno)))") }
    }

    /// Writes one chunk at `offset`; a chunk of zeros is skipped and stays a hole.
    private func write(_ id: BlobID, from location: Repository.Location, at offset: Int64, to descriptor: Int32, path: String) async -> BackupError? {
        let chunk: [UInt8]
        do { chunk = try await repository.load(id, at: location) } catch { return error }
        return chunk.withUnsafeBytes { bytes -> BackupError? in
            if bytes.isEmpty || (bytes[0] == 0 && memcmp(bytes.baseAddress!, bytes.baseAddress! + 1, bytes.count - 1) == 0) { return nil }
            var done = 0
            while done < bytes.count {
                let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return .io("cannot write \(path): \(String(cString: strerror(errno)))") }
                done += written
            }
            return nil
        }
    }

    private func applyMetadata(_ node: Node, at path: String) throws(BackupError) {
        if getuid() == 0 { chown(path, node.uid, node.gid) }
        guard chmod(path, mode_t(node.mode)) == 0 else { throw .io("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
        var times = Self.times(node.mtime)
        utimensat(AT_FDCWD, path, &times, 0)
    }

    /// Access and modification time, both set to the recorded modification time.
    private static func times(_ nanoseconds: Int64) -> [timespec] {
        let time = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        return [time, time]
    }
}

/// Counters and the hard-link table shared by the tasks of one restore.
final class RestoreState: Sendable {
    private struct Inner {
        var result = Restorer.Result()
        var linked: [String: String] = [:]
    }

    private let inner = Mutex(Inner())

    var result: Restorer.Result { inner.withLock { $0.result } }

    /// The path first restored for hard-link `key`; nil when `path` is the first (it becomes it).
    func firstPath(for key: String, is path: String) -> String? {
        inner.withLock { inner in
            if let first = inner.linked[key] { return first }
            inner.linked[key] = path
            return nil
        }
    }

    func countFile(bytes: Int64) {
        inner.withLock {
            $0.result.files += 1
            $0.result.bytes += bytes
        }
    }

    func countDirectory() { inner.withLock { $0.result.directories += 1 } }

    func warn(_ warning: String) { inner.withLock { $0.result.warnings.append(warning) } }
}
