import Foundation
import Synchronization
import ZonalCore

/// Writes a snapshot's tree into a directory, byte for byte, with modes, times, owners (when
/// run as root), symbolic links, hard links, named pipes, device nodes (as root) and holes:
/// whole blocks of zeros are skipped, not written, so sparse files stay sparse. Sockets are not
/// recreated: one belongs to the program listening on it.
///
/// The tree is laid out first (directories, links, pipes; files queued in batches); each batch
/// of files is then written from reads planned by ``RestorePlan``: pack by pack, in offset order,
/// neighbouring blobs in one read, `parallelism` reads at once, every blob written to every file
/// that holds it. Directories get their modes and times last, once nothing is written into them
/// any more. Memory is bounded by the reads in flight (at most `parallelism` × 8 MiB and the
/// blobs they hold), one batch's file list, and one entry per directory of the tree.
public struct Restorer: Sendable {
    public let repository: Repository
    /// Pack reads at once. Default: two per core, so that one read waits on the disk while
    /// another's blobs are decrypted and written.
    public var parallelism: Int
    /// Files written per batch (the next batch is laid out meanwhile): the files open at once are
    /// at most these.
    public var batchFiles = 512

    public init(repository: Repository, parallelism: Int = max(ProcessInfo.processInfo.activeProcessorCount * 2, 2)) {
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

    /// Restores the tree `id` into the existing directory `directory` (its own metadata is the
    /// caller's).
    func restoreTree(_ id: BlobID, into directory: String, state: RestoreState) async throws(BackupError) {
        var layout = Layout()
        do throws(BackupError) {
            try await lay(id, into: directory, state: state, layout: &layout)
            try await startWriting(&layout, state: state)
            try await Self.finish(layout.writing)
        } catch {
            // Nothing may still write once the error is reported.
            _ = try? await Self.finish(layout.writing)
            throw error
        }
        // A hard link is made once the file it links to is complete.
        for (first, path) in layout.links {
            guard FileName.withPath(first, { first in FileName.withPath(path) { link(first, $0) } }) == 0 else {
                throw .io("cannot link \(FileName.printable(path)) to \(FileName.printable(first)): \(String(cString: strerror(errno)))")
            }
        }
        // Deepest first: setting a directory's times before its children are made would undo them.
        for (node, path) in layout.directories.reversed() {
            try RestoredMetadata.apply(node, at: path)
            state.countDirectory()
        }
    }

    /// What laying the tree out leaves to do: the files of the current batch (the batch before
    /// it is being written meanwhile), the hard links, and every directory's metadata.
    private struct Layout {
        var files: [RestoredFiles.File] = []
        var pieces: [[RestorePlan.Piece]] = []
        var writing: Task<Void, any Error>?
        var links: [(first: String, path: String)] = []
        var directories: [(node: Node, path: String)] = []
    }

    private func lay(_ id: BlobID, into directory: String, state: RestoreState, layout: inout Layout) async throws(BackupError) {
        let tree = try await repository.loadTree(id)
        for node in tree.nodes {
            let path = "\(directory)/\(node.name)"
            switch node.kind {
            case .directory:
                guard FileName.withPath(path, { mkdir($0, 0o700) }) == 0 || errno == EEXIST else {
                    throw .io("cannot create \(FileName.printable(path)): \(String(cString: strerror(errno)))")
                }
                layout.directories.append((node, path))
                if let subtree = node.subtree { try await lay(subtree, into: path, state: state, layout: &layout) }
            case .file:
                if let key = node.hardlink, let first = state.firstPath(for: key, is: path) {
                    layout.links.append((first, path))
                    continue
                }
                layout.pieces.append(try pieces(of: node, at: path))
                layout.files.append(RestoredFiles.File(path: path, node: node, remaining: layout.pieces.last!.count))
                if layout.files.count >= batchFiles { try await startWriting(&layout, state: state) }
            default:
                try makeSpecial(node, at: path, state: state)
            }
        }
    }

    /// Where each chunk of a file is stored and where it goes in the file.
    private func pieces(of node: Node, at path: String) throws(BackupError) -> [RestorePlan.Piece] {
        var pieces: [RestorePlan.Piece] = []
        var size: Int64 = 0
        for id in node.content ?? [] {
            guard let location = repository.location(of: id) else { throw .corrupt("\(path): chunk \(id) is in no index") }
            pieces.append(RestorePlan.Piece(id: id, blob: location.blob, pack: location.pack, fileOffset: size))
            size += Int64(location.blob.plainLength)
        }
        guard size == node.size else { throw .corrupt("\(path): the snapshot's chunks make \(size) bytes, the file had \(node.size)") }
        return pieces
    }

    /// Starts writing the files of `layout`'s batch once the batch before it is written, so the
    /// tree is laid out further while they are; the batch is then empty again.
    private func startWriting(_ layout: inout Layout, state: RestoreState) async throws(BackupError) {
        try await Self.finish(layout.writing)
        layout.writing = nil
        guard !layout.files.isEmpty else { return }
        let (batch, pieces) = (layout.files, layout.pieces)
        layout.files = []
        layout.pieces = []
        layout.writing = Task { try await write(batch, pieces: pieces, state: state) }
    }

    private static func finish(_ writing: Task<Void, any Error>?) async throws(BackupError) {
        if let writing { try await value(of: writing) }
    }

    /// What a task of this restore returned, or the error it threw.
    private static func value<T>(of task: Task<T, any Error>) async throws(BackupError) -> T {
        do { return try await task.value } catch let error as BackupError { throw error } catch { throw .io("restoring failed: \(error)") }
    }

    /// Writes one batch of files, whose chunks are `pieces`.
    private func write(_ batch: [RestoredFiles.File], pieces: [[RestorePlan.Piece]], state: RestoreState) async throws(BackupError) {
        let files = RestoredFiles(batch) { state.countFile(bytes: $0.size) }
        do throws(BackupError) {
            let plan = RestorePlan(pieces: pieces)
            for (index, file) in batch.enumerated() where file.remaining == 0 { try files.complete(index) }
            try await read(plan, into: files)
        } catch {
            files.closeAll()
            throw error
        }
    }

    /// Performs the plan's reads, `parallelism` at once, each blob checked against its id and
    /// written to every place it goes.
    private func read(_ plan: RestorePlan, into files: RestoredFiles) async throws(BackupError) {
        _ = try await plan.reads.concurrentMap(width: parallelism) { read throws(BackupError) in try await perform(read, into: files) }
    }

    private func perform(_ read: RestorePlan.Read, into files: RestoredFiles) async throws(BackupError) {
        let region = try await repository.store.read(Repository.packName(read.pack), offset: read.offset, length: read.length)
        for blob in read.blobs {
            let start = blob.blob.offset - read.offset
            let plain = try repository.open(Array(region[start..<start + blob.blob.length]), as: blob.id, from: blob.blob, in: read.pack)
            let failure = plain.withUnsafeBytes { bytes -> BackupError? in
                do throws(BackupError) {
                    for target in blob.targets { try files.write(bytes, to: target.file, at: target.offset) }
                } catch {
                    return error
                }
                return nil
            }
            if let failure { throw failure }
        }
    }

    private func makeSpecial(_ node: Node, at path: String, state: RestoreState) throws(BackupError) {
        switch node.kind {
        case .symlink:
            guard FileName.withPath(node.linkTarget ?? "", { target in FileName.withPath(path) { symlink(target, $0) } }) == 0 else {
                throw .io("cannot create link \(FileName.printable(path)): \(String(cString: strerror(errno)))")
            }
            try RestoredMetadata.apply(node, at: path, followLink: false)
        case .fifo:
            guard FileName.withPath(path, { mkfifo($0, 0o600) }) == 0 else {
                throw .io("cannot create the named pipe \(FileName.printable(path)): \(String(cString: strerror(errno)))")
            }
            try RestoredMetadata.apply(node, at: path)
        case .characterDevice, .blockDevice:
            let type = node.kind == .characterDevice ? S_IFCHR : S_IFBLK
            guard FileName.withPath(path, { mknod($0, type | 0o600, dev_t(node.device ?? 0)) }) == 0 else {
                // Only root may make device nodes: the rest of the tree is still worth having.
                guard errno == EPERM else { throw .io("cannot create the device node \(FileName.printable(path)): \(String(cString: strerror(errno)))") }
                state.warn("\(FileName.printable(path)): device node not created: \(String(cString: strerror(EPERM))) (only root may make one)")
                return
            }
            try RestoredMetadata.apply(node, at: path)
        case .file, .directory, .socket:
            break
        }
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
