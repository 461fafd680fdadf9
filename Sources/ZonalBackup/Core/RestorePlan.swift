/// The reads that restore a batch of files: every blob the files need, grouped by pack and
/// ordered by offset, neighbours merged into one read, so each pack is read once, front to back,
/// and a blob several files share is loaded once. Pure: the files and their chunks' places go in.
public struct RestorePlan: Sendable, Equatable {
    /// One chunk of a file: the blob, where it is stored, and where it goes in the file.
    public struct Piece: Sendable, Hashable {
        public var id: BlobID
        public var blob: PackedBlob
        public var pack: String
        public var fileOffset: Int64

        public init(id: BlobID, blob: PackedBlob, pack: String, fileOffset: Int64) {
            self.id = id
            self.blob = blob
            self.pack = pack
            self.fileOffset = fileOffset
        }
    }

    /// Where one loaded blob is written: file `file` (an index into the batch) at `offset`.
    public struct Target: Sendable, Hashable {
        public var file: Int
        public var offset: Int64
    }

    /// One blob of a read, with every place it goes.
    public struct Blob: Sendable, Equatable {
        public var id: BlobID
        public var blob: PackedBlob
        public var targets: [Target]
    }

    /// One contiguous read of a pack, `offset..<offset + length`, and the blobs inside it.
    public struct Read: Sendable, Equatable {
        public var pack: String
        public var offset: Int
        public var length: Int
        public var blobs: [Blob]
    }

    public var reads: [Read]

    /// Plans the reads for files whose chunks are `pieces[file]`. Blobs of one pack closer than
    /// `maximumGap` bytes are read together (the gap read and dropped costs less than another
    /// request), as long as a read stays within `maximumRead` bytes (or holds a single blob) and
    /// `maximumBlobs` blobs: reads are what runs in parallel, so a pack of a thousand small
    /// files must not become one read that one task decodes and writes alone.
    public init(pieces: [[Piece]], maximumRead: Int = 4 << 20, maximumGap: Int = 256 << 10, maximumBlobs: Int = 32) {
        // Each blob once, with all its places; built by index so that appending a place
        // copies nothing.
        var blobs: [(pack: String, blob: Blob)] = []
        var indices: [String: [BlobID: Int]] = [:]
        var packOrder: [String] = []
        for (file, filePieces) in pieces.enumerated() {
            for piece in filePieces {
                let target = Target(file: file, offset: piece.fileOffset)
                if let index = indices[piece.pack]?[piece.id] {
                    blobs[index].blob.targets.append(target)
                    continue
                }
                if indices[piece.pack] == nil { packOrder.append(piece.pack) }
                indices[piece.pack, default: [:]][piece.id] = blobs.count
                blobs.append((piece.pack, Blob(id: piece.id, blob: piece.blob, targets: [target])))
            }
        }
        var reads: [Read] = []
        for pack in packOrder {
            var current: Read?
            for blob in indices[pack]!.values.map({ blobs[$0].blob }).sorted(by: { $0.blob.offset < $1.blob.offset }) {
                let end = blob.blob.offset + blob.blob.length
                if var read = current, blob.blob.offset - (read.offset + read.length) <= maximumGap, end - read.offset <= maximumRead,
                    read.blobs.count < maximumBlobs
                {
                    read.length = max(read.length, end - read.offset)
                    read.blobs.append(blob)
                    current = read
                } else {
                    if let read = current { reads.append(read) }
                    current = Read(pack: pack, offset: blob.blob.offset, length: blob.blob.length, blobs: [blob])
                }
            }
            if let read = current { reads.append(read) }
        }
        self.reads = reads
    }
}
