import Foundation
import Synchronization

/// Writes a snapshot's tree into a directory, byte for byte, with modes, times, owners (when
/// run as root), symbolic links, hard links and holes: chunks of zeros are skipped, not
/// written, so sparse files stay sparse. Files are restored by several tasks at once.
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
        return state.result
    }

    func restoreTree(_ id: BlobID, into directory: String, state: RestoreState) async throws(BackupError) {
        let tree = try repository.loadTree(id)
        // Hard links point at files restored before them, so files go first, in order of name,
        // a few at a time; then subdirectories, each after its own content.
        let width = parallelism
        var failure: BackupError?
        await withTaskGroup(of: BackupError?.self) { group in
            var running = 0
            for node in tree.nodes where node.kind != .directory {
                if running == width, let result = await group.next() {
                    failure = failure ?? result
                    running -= 1
                }
                let path = "\(directory)/\(node.name)"
                group.addTask {
                    do throws(BackupError) { try restoreLeaf(node, at: path, state: state) } catch { return error }
                    return nil
                }
                running += 1
            }
            for await result in group { failure = failure ?? result }
        }
        if let failure { throw failure }
        for node in tree.nodes where node.kind == .directory {
            let path = "\(directory)/\(node.name)"
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
            if let subtree = node.subtree { try await restoreTree(subtree, into: path, state: state) }
            try applyMetadata(node, at: path)
            state.countDirectory()
        }
    }

    private func restoreLeaf(_ node: Node, at path: String, state: RestoreState) throws(BackupError) {
        switch node.kind {
        case .symlink:
            guard symlink(node.linkTarget ?? "", path) == 0 else { throw .io("cannot create link \(path): \(String(cString: strerror(errno)))") }
            if getuid() == 0 { lchown(path, node.uid, node.gid) }
            var times = Self.times(node.mtime)
            utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
        case .file:
            if let key = node.hardlink, let first = state.firstPath(for: key, is: path) {
                guard link(first, path) == 0 else { throw .io("cannot link \(path) to \(first): \(String(cString: strerror(errno)))") }
                return
            }
            try writeFile(node, at: path)
            try applyMetadata(node, at: path)
            state.countFile(bytes: node.size)
        case .directory:
            break
        }
    }

    private func writeFile(_ node: Node, at path: String) throws(BackupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var offset: Int64 = 0
        for id in node.content ?? [] {
            let chunk = try repository.load(id)
            if !chunk.allSatisfy({ $0 == 0 }) {
                var done = 0
                while done < chunk.count {
                    let written = chunk.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, chunk.count - done, off_t(offset) + off_t(done)) }
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { throw .io("cannot write \(path): \(String(cString: strerror(errno)))") }
                    done += written
                }
            }
            offset += Int64(chunk.count)
        }
        // Sets the size, leaving skipped zero chunks as holes.
        guard ftruncate(descriptor, off_t(offset)) == 0 else { throw .io("cannot size \(path): \(String(cString: strerror(errno)))") }
        guard offset == node.size else { throw .corrupt("\(path): the snapshot's chunks make \(offset) bytes, the file had \(node.size)") }
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
}
