import Foundation
import Synchronization

/// Makes a snapshot of paths: walks them, cuts files into chunks, stores the chunks the
/// repository does not have yet, then the directory trees, then the snapshot. Files are read
/// by several tasks at once (one per core), each holding at most one read buffer and one
/// chunk, so memory stays bounded however large the tree.
public struct BackupRunner: Sendable {
    public let repository: Repository
    /// Paths (relative to a backed-up directory, or their last component) to leave out.
    public var excludes: ExcludeRules
    /// Stay on the file system of each path given: directories that are mount points of another
    /// (/proc, a network share) are kept, empty. Default false.
    public var oneFileSystem: Bool
    /// Files read at once (and chunks of one file sealed at once). Default: one per core.
    public var parallelism: Int
    /// Called with progress now and then (files, bytes read so far).
    public var onProgress: @Sendable (Progress) -> Void

    public struct Progress: Sendable {
        public var files: Int
        public var bytes: Int64
        public var currentPath: String
    }

    public init(
        repository: Repository, excludes: ExcludeRules = ExcludeRules(), oneFileSystem: Bool = false,
        parallelism: Int = max(ProcessInfo.processInfo.activeProcessorCount, 2), onProgress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) {
        self.repository = repository
        self.excludes = excludes
        self.oneFileSystem = oneFileSystem
        self.parallelism = max(parallelism, 1)
        self.onProgress = onProgress
    }

    /// Problems with single files (unreadable, vanished) do not stop the backup; they are
    /// reported and the snapshot records what could be read.
    public struct Result: Sendable {
        public var snapshot: Snapshot
        public var warnings: [String]
    }

    public func run(paths: [String]) async throws(BackupError) -> Result {
        guard !paths.isEmpty else { throw .invalid("give at least one path to back up") }
        let absolute = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let names = absolute.map { ($0 as NSString).lastPathComponent }
        if Set(names).count != names.count {
            throw .invalid("the paths given end in the same name twice (\(names.joined(separator: ", "))); back them up separately")
        }
        return try await repository.withLock(exclusive: false) { () async throws(BackupError) -> Result in
            let writer = PackWriter(repository: repository)
            let state = RunState(readers: parallelism)
            let parent = try await parentListing(for: absolute)
            var nodes: [Node] = []
            for path in absolute {
                let name = (path as NSString).lastPathComponent
                guard let node = try await backUp(path: path, name: name, parent: parent[name], writer: writer, state: state, top: true, device: nil) else {
                    throw .notFound("\(path) does not exist or cannot be read")
                }
                nodes.append(node)
            }
            let root = try await store(tree: Tree(nodes: nodes.sorted { $0.name < $1.name }), writer: writer, state: state)
            try await writer.finish()
            var summary = state.summary
            summary.storedBytes = await writer.storedBytes
            let snapshot = Snapshot(
                id: Repository.randomName(), time: Date(), hostname: ProcessInfo.processInfo.hostName,
                paths: absolute, tree: root, summary: summary)
            try await repository.save(snapshot)
            return Result(snapshot: snapshot, warnings: state.warnings)
        }
    }

    /// The root listing of the newest snapshot of the same paths, whose unchanged files are
    /// taken over without being read again.
    private func parentListing(for paths: [String]) async throws(BackupError) -> [String: Node] {
        guard let parent = try await repository.snapshots().last(where: { $0.paths == paths }) else { return [:] }
        return try await Self.byName(repository.loadTree(parent.tree))
    }

    private static func byName(_ tree: Tree) -> [String: Node] {
        Dictionary(tree.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A file is unchanged when its size, modification time, change time and inode are those the
    /// parent snapshot recorded and every chunk it listed is still in the repository.
    private func unchangedContent(_ parent: Node?, _ info: stat) -> [BlobID]? {
        guard let parent, parent.kind == .file, let content = parent.content, parent.size == Int64(info.st_size),
            parent.mtime == Self.nanoseconds(info.st_mtim), parent.ctime == Self.nanoseconds(info.st_ctim),
            parent.inode == UInt64(info.st_ino), content.allSatisfy({ repository.location(of: $0) != nil })
        else { return nil }
        return content
    }

    private static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// `device`: with ``oneFileSystem``, the file system of the path given that this entry is under.
    private func backUp(
        path: String, name: String, parent: Node?, writer: PackWriter, state: RunState, top: Bool,
        device: UInt64?
    ) async throws(BackupError) -> Node? {
        var info = stat()
        guard FileName.withPath(path, { lstat($0, &info) }) == 0 else {
            if !top { state.warn("\(FileName.printable(path)): \(String(cString: strerror(errno)))") }
            return nil
        }
        var node = Node(
            name: name, kind: .file, mode: UInt32(info.st_mode) & 0o7777, uid: info.st_uid, gid: info.st_gid,
            mtime: Self.nanoseconds(info.st_mtim), size: 0)
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            node.kind = .directory
            let home = top ? (oneFileSystem ? UInt64(info.st_dev) : nil) : device
            if let home, UInt64(info.st_dev) != home {
                // A mount point of another file system: kept as an empty directory.
                node.subtree = try await store(tree: Tree(nodes: []), writer: writer, state: state)
                state.countDirectory()
                break
            }
            var parentListing: [String: Node] = [:]
            if let parent, parent.kind == .directory, let id = parent.subtree { parentListing = Self.byName(try await repository.loadTree(id)) }
            node.subtree = try await backUpDirectory(path, parent: parentListing, writer: writer, state: state, device: home)
            state.countDirectory()
        case S_IFLNK:
            node.kind = .symlink
            node.linkTarget = Self.linkTarget(of: path, size: Int(info.st_size))
        case S_IFREG:
            node.size = Int64(info.st_size)
            if info.st_nlink > 1 { node.hardlink = "\(info.st_dev):\(info.st_ino)" }
            node.ctime = Self.nanoseconds(info.st_ctim)
            node.inode = UInt64(info.st_ino)
            if let unchanged = unchangedContent(parent, info) {
                node.content = unchanged
            } else {
                // Directories are walked by nested task groups, so the number of files read at
                // once is capped here, where memory is spent, not by the groups' widths.
                guard
                    let read = try await state.readers.holding({ () async throws(BackupError) in
                        try await backUpFile(path, writer: writer, state: state)
                    })
                else { return nil }
                node.content = read
            }
            state.countFile(bytes: node.size, path: path, report: onProgress)
        case S_IFIFO:
            node.kind = .fifo
        case S_IFSOCK:
            node.kind = .socket
        case S_IFCHR, S_IFBLK:
            node.kind = info.st_mode & S_IFMT == S_IFCHR ? .characterDevice : .blockDevice
            node.device = UInt64(info.st_rdev)
        default:
            state.warn("\(FileName.printable(path)): skipped (an unknown kind of file)")
            return nil
        }
        return node
    }

    private func backUpDirectory(
        _ path: String, parent: [String: Node], writer: PackWriter, state: RunState,
        device: UInt64?
    ) async throws(BackupError) -> BlobID {
        guard let entries = FileTree.entries(of: path)?.sorted() else {
            state.warn("\(FileName.printable(path)): cannot list: \(String(cString: strerror(errno)))")
            return try await store(tree: Tree(nodes: []), writer: writer, state: state)
        }
        let kept = entries.filter { !excludes.excludes(path: "\(path)/\($0)", name: $0) }
        // Entries are backed up by several tasks at once, a few at a time.
        let nodes = try await kept.concurrentMap(width: parallelism) { name throws(BackupError) in
            try await backUp(path: "\(path)/\(name)", name: name, parent: parent[name], writer: writer, state: state, top: false, device: device)
        }.compactMap { $0 }
        return try await store(tree: Tree(nodes: nodes.sorted { $0.name < $1.name }), writer: writer, state: state)
    }

    /// Where a symbolic link points, whatever its bytes; `size` is the link's `st_size`.
    private static func linkTarget(of path: String, size: Int) -> String {
        var buffer = [UInt8](repeating: 0, count: max(size, Int(PATH_MAX)) + 1)
        let count = FileName.withPath(path) { path in
            buffer.withUnsafeMutableBufferPointer { $0.withMemoryRebound(to: CChar.self) { readlink(path, $0.baseAddress!, $0.count) } }
        }
        return count < 0 ? "" : FileName.string(from: buffer[0..<count])
    }

    /// Chunks of one file, stored when new; nil (with a warning) when it cannot be read.
    /// Chunks are hashed, compressed and sealed by up to `parallelism` tasks at once while the
    /// file is read on, so one large file uses every core; their ids keep the file's order.
    private func backUpFile(_ path: String, writer: PackWriter, state: RunState) async throws(BackupError) -> [BlobID]? {
        let descriptor = FileName.withPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            state.warn("\(FileName.printable(path)): cannot read: \(String(cString: strerror(errno)))")
            return nil
        }
        defer { close(descriptor) }
        let outcome = await withTaskGroup(of: Swift.Result<(Int, BlobID), BackupError>.self) { group -> Swift.Result<[BlobID]?, BackupError> in
            var stream = ChunkStream(chunker: FastCDC(settings: repository.parameters.chunker))
            var ids: [BlobID?] = []
            var inFlight = 0
            var failure: BackupError?
            func collect(_ result: Swift.Result<(Int, BlobID), BackupError>?) {
                inFlight -= 1
                switch result {
                case .success(let (index, id)): ids[index] = id
                case .failure(let error): failure = failure ?? error
                case nil: break
                }
            }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while failure == nil {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    state.warn("\(FileName.printable(path)): read failed: \(String(cString: strerror(errno)))")
                    while inFlight > 0 { collect(await group.next()) }
                    return .success(nil)
                }
                for chunk in count == 0 ? stream.finish() : stream.feed(buffer[0..<count]) {
                    if inFlight >= parallelism { collect(await group.next()) }
                    let index = ids.count
                    ids.append(nil)
                    inFlight += 1
                    group.addTask {
                        do throws(BackupError) {
                            return .success((index, try await store(chunk, kind: .data, writer: writer, state: state)))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                if count == 0 { break }
            }
            while inFlight > 0 { collect(await group.next()) }
            if let failure { return .failure(failure) }
            return .success(ids.map { $0! })
        }
        return try outcome.get()
    }

    private func store(tree: Tree, writer: PackWriter, state: RunState) async throws(BackupError) -> BlobID {
        try await store(Array(try Repository.json(tree)), kind: .tree, writer: writer, state: state)
    }

    private func store(_ plain: [UInt8], kind: PackedBlob.Kind, writer: PackWriter, state: RunState) async throws(BackupError) -> BlobID {
        let id = repository.key.blobID(of: plain)
        guard await writer.reserve(id) else { return id }
        // Compression and encryption run here, in the calling task, in parallel with others.
        let stored = repository.codec.encode(plain)
        try await writer.add(id, kind: kind, stored: stored, plainLength: plain.count)
        state.countNew(plainBytes: plain.count)
        return id
    }

}

/// Counters and warnings shared by the tasks of one backup, and the limit on files read at once.
final class RunState: Sendable {
    private struct Counts {
        var summary = Snapshot.Summary()
        var warnings: [String] = []
    }

    private let counts = Mutex(Counts())
    let readers: Slots

    init(readers: Int) {
        self.readers = Slots(readers)
    }

    var summary: Snapshot.Summary { counts.withLock { $0.summary } }
    var warnings: [String] { counts.withLock { $0.warnings } }

    func warn(_ warning: String) { counts.withLock { $0.warnings.append(warning) } }
    func countDirectory() { counts.withLock { $0.summary.directories += 1 } }

    func countNew(plainBytes: Int) {
        counts.withLock {
            $0.summary.newBytes += Int64(plainBytes)
            $0.summary.newBlobs += 1
        }
    }

    func countFile(bytes: Int64, path: String, report: (BackupRunner.Progress) -> Void) {
        let progress = counts.withLock { counts -> BackupRunner.Progress in
            counts.summary.files += 1
            counts.summary.bytes += bytes
            return BackupRunner.Progress(files: counts.summary.files, bytes: counts.summary.bytes, currentPath: path)
        }
        report(progress)
    }
}
