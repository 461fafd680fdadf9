import Foundation
import Synchronization

/// The files of one restore batch while their chunks arrive, in whatever order the packs are
/// read: a file is created when its first chunk comes, and when its last has been written it is
/// sized (the holes at its end stay holes), given its owner, mode and times through its open
/// descriptor, and closed. At most the batch's files are open at once.
final class RestoredFiles: Sendable {
    struct File: Sendable {
        var path: String
        var node: Node
        /// Chunk writes still to come.
        var remaining: Int
    }

    /// One file's descriptor and the writes it still waits for, locked on its own: creating a
    /// file can take a while (ext4 looks for an inode), and only that file's writers wait.
    private final class Slot: Sendable {
        let path: String
        let node: Node
        let state: Mutex<(descriptor: Int32?, remaining: Int)>

        init(_ file: File) {
            path = file.path
            node = file.node
            state = Mutex((nil, file.remaining))
        }
    }

    private let slots: [Slot]
    private let finished: @Sendable (Node) -> Void

    /// `finished` is called with each file's node once it is complete on disk.
    init(_ files: [File], finished: @escaping @Sendable (Node) -> Void) {
        slots = files.map(Slot.init)
        self.finished = finished
    }

    /// Writes `bytes` into file `index` at `offset`, leaving blocks of zeros unwritten (holes);
    /// completes the file when this was its last chunk.
    func write(_ bytes: UnsafeRawBufferPointer, to index: Int, at offset: Int64) throws(BackupError) {
        let slot = slots[index]
        let descriptor = try open(slot)
        try SparseWrite.write(bytes, at: offset, to: descriptor, path: slot.path)
        let last = slot.state.withLock { state -> Bool in
            state.remaining -= 1
            return state.remaining == 0
        }
        if last { try complete(index) }
    }

    /// Completes a file that has no chunk to wait for (an empty file, or one of only holes), or
    /// whose last chunk was just written.
    func complete(_ index: Int) throws(BackupError) {
        let slot = slots[index]
        let descriptor = try open(slot)
        slot.state.withLock { $0.descriptor = nil }
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(slot.node.size)) == 0 else { throw .io("cannot size \(slot.path): \(String(cString: strerror(errno)))") }
        try RestoredMetadata.apply(slot.node, to: descriptor, path: slot.path)
        finished(slot.node)
    }

    /// Closes what is still open after a failure; the half-written files stay behind.
    func closeAll() {
        for slot in slots {
            if let descriptor = slot.state.withLock({ state -> Int32? in
                defer { state.descriptor = nil }
                return state.descriptor
            }) {
                close(descriptor)
            }
        }
    }

    private func open(_ slot: Slot) throws(BackupError) -> Int32 {
        try slot.state.withLock { state throws(BackupError) -> Int32 in
            if let descriptor = state.descriptor { return descriptor }
            let descriptor = FileName.withPath(slot.path) { Foundation.open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
            guard descriptor >= 0 else { throw .io("cannot create \(FileName.printable(slot.path)): \(String(cString: strerror(errno)))") }
            state.descriptor = descriptor
            return descriptor
        }
    }
}

/// Writes file content so that every block of zeros becomes a hole, wherever the chunks begin
/// and end: the file is new, so what is not written reads as zeros, and it is sized at the end.
enum SparseWrite {
    /// The unit of holes: the page and file system block size of every Linux file system Zonal
    /// restores to.
    static let block = 4096
    private static let zeros = [UInt8](repeating: 0, count: block)

    static func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64, to descriptor: Int32, path: String) throws(BackupError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var position = 0  // into `bytes`
        var pending: Range<Int>?  // bytes not yet written, ending at `position`
        while position < bytes.count {
            // Blocks are aligned in the file, not in the chunk.
            let fileOffset = offset + Int64(position)
            let blockEnd = Int((fileOffset / Int64(block) + 1) * Int64(block) - offset)
            let end = min(blockEnd, bytes.count)
            // A part of a block (at a chunk's ends) that is zero is skipped as well: the rest of
            // its block is another chunk's, and if that is zero too the block stays a hole.
            let isZero = zeros.withUnsafeBytes { memcmp(base + position, $0.baseAddress!, end - position) == 0 }
            if isZero {
                if let range = pending { try writeAll(base + range.lowerBound, range.count, at: offset + Int64(range.lowerBound), descriptor, path) }
                pending = nil
            } else {
                pending = (pending?.lowerBound ?? position)..<end
            }
            position = end
        }
        if let range = pending { try writeAll(base + range.lowerBound, range.count, at: offset + Int64(range.lowerBound), descriptor, path) }
    }

    private static func writeAll(_ start: UnsafeRawPointer, _ count: Int, at offset: Int64, _ descriptor: Int32, _ path: String) throws(BackupError) {
        var done = 0
        while done < count {
            let written = pwrite(descriptor, start + done, count - done, off_t(offset) + off_t(done))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .io("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += written
        }
    }
}

/// Owner (when run as root), mode and times of a restored entry, with one call each.
enum RestoredMetadata {
    /// Only root may give files away; asked once per process.
    static let mayChangeOwner = getuid() == 0

    /// Through the open descriptor of a regular file.
    static func apply(_ node: Node, to descriptor: Int32, path: String) throws(BackupError) {
        if mayChangeOwner { fchown(descriptor, node.uid, node.gid) }
        guard fchmod(descriptor, mode_t(node.mode)) == 0 else { throw .io("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
        var times = self.times(node.mtime)
        futimens(descriptor, &times)
    }

    /// By path: directories, pipes and device nodes (`followLink` false for symbolic links,
    /// whose mode cannot be set).
    static func apply(_ node: Node, at path: String, followLink: Bool = true) throws(BackupError) {
        try FileName.withPath(path) { (rawPath) throws(BackupError) in
            if followLink {
                if mayChangeOwner { chown(rawPath, node.uid, node.gid) }
                guard chmod(rawPath, mode_t(node.mode)) == 0 else {
                    throw .io("cannot set the mode of \(FileName.printable(path)): \(String(cString: strerror(errno)))")
                }
            } else if mayChangeOwner {
                lchown(rawPath, node.uid, node.gid)
            }
            var times = self.times(node.mtime)
            utimensat(AT_FDCWD, rawPath, &times, followLink ? 0 : AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Access and modification time, both set to the recorded modification time.
    private static func times(_ nanoseconds: Int64) -> [timespec] {
        let time = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        return [time, time]
    }
}
