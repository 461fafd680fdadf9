import Foundation

/// What a repository holds, besides packs: its settings, the index of blobs in packs, the
/// snapshots and the trees they point to. Every one of these is stored sealed (see
/// docs/backup-format.md), as JSON inside.
public struct RepositoryParameters: Codable, Sendable, Hashable {
    /// 2 since trees keep names that are not UTF-8 (``Tree/format``); 1 before. A repository
    /// of a version above ``newestVersion`` was written by a newer Zonal and is refused.
    public var version = Self.newestVersion
    public static let newestVersion = 2
    public var id: String
    public var chunker: FastCDC.Settings
    /// zstd level for new blobs.
    public var compressionLevel: Int32
    /// Packs are closed once they reach this size. Default 16 MiB.
    public var packSize: Int

    public init(id: String, chunker: FastCDC.Settings = .init(), compressionLevel: Int32 = 3, packSize: Int = 16 << 20) {
        self.id = id
        self.chunker = chunker
        self.compressionLevel = compressionLevel
        self.packSize = packSize
    }
}

/// A blob inside a pack.
public struct PackedBlob: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        /// A chunk of file content.
        case data
        /// A directory listing (``Tree``).
        case tree
    }

    public var id: BlobID
    public var kind: Kind
    public var offset: Int
    /// Stored (sealed) length.
    public var length: Int
    /// Plain length.
    public var plainLength: Int

    /// The largest offset or length a pack can have (a pack is at most a few times `pack_size`).
    public static let maximumPackBytes = 1 << 32
    /// The largest plain blob: far above the chunker's maximum and any tree a backup writes.
    public static let maximumPlainBytes = 1 << 30

    public init(id: BlobID, kind: Kind, offset: Int, length: Int, plainLength: Int) {
        self.id = id
        self.kind = kind
        self.offset = offset
        self.length = length
        self.plainLength = plainLength
    }

    /// Index files come from storage: an offset or length out of range is damage, refused here
    /// so that no reader computes `offset + length` or allocates `plainLength` bytes from it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(BlobID.self, forKey: .id)
        kind = try container.decode(Kind.self, forKey: .kind)
        offset = try container.decode(Int.self, forKey: .offset)
        length = try container.decode(Int.self, forKey: .length)
        plainLength = try container.decode(Int.self, forKey: .plainLength)
        guard (0...Self.maximumPackBytes).contains(offset), (0...Self.maximumPackBytes).contains(length),
            (0...Self.maximumPlainBytes).contains(plainLength)
        else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "blob \(id) has offset \(offset), length \(length), plain length \(plainLength): out of range"))
        }
    }
}

/// One index file: which blobs each pack holds.
public struct IndexFile: Codable, Sendable {
    public struct Pack: Codable, Sendable {
        public var pack: String
        public var blobs: [PackedBlob]
    }

    public var packs: [Pack]
}

/// A directory listing: the nodes of one directory, by name.
public struct Tree: Codable, Sendable, Hashable {
    public var nodes: [Node]
    /// How names and link targets are written: 2 (``byteExactFormat``) in the ``FileName``
    /// form, any bytes kept; absent in trees written before, whose names are plain UTF-8.
    public var format: Int?

    public static let byteExactFormat = 2

    public init(nodes: [Node]) {
        self.nodes = nodes
        format = Self.byteExactFormat
    }

    /// The tree with names and link targets in the ``FileName`` form, whichever format it was
    /// written in (a plain UTF-8 name holding the private-use scalars ``FileName`` gives a
    /// meaning to is turned into their bytes' form, so it is restored unchanged).
    public var inFileNameForm: Tree {
        guard format != Self.byteExactFormat else { return self }
        var tree = self
        tree.format = Self.byteExactFormat
        for index in tree.nodes.indices {
            tree.nodes[index].name = FileName.string(from: Array(tree.nodes[index].name.utf8))
            tree.nodes[index].linkTarget = tree.nodes[index].linkTarget.map { FileName.string(from: Array($0.utf8)) }
        }
        return tree
    }
}

/// One entry of a directory, with the metadata restore puts back.
public struct Node: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case file, directory, symlink, fifo, socket
        case characterDevice = "chardev"
        case blockDevice = "blockdev"
    }

    public var name: String
    public var kind: Kind
    /// Permission bits (and setuid/setgid/sticky).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time, nanoseconds since 1970.
    public var mtime: Int64
    public var size: Int64
    /// File content, in order.
    public var content: [BlobID]?
    /// A directory's own listing.
    public var subtree: BlobID?
    public var linkTarget: String?
    /// A device node's device number (`st_rdev`).
    public var device: UInt64?
    /// Device and inode of a file with several hard links; equal keys are restored as links.
    public var hardlink: String?
    /// Change time (ns) and inode of a file when it was read: with size and mtime they tell the
    /// next backup it may take the content over without reading the file.
    public var ctime: Int64?
    public var inode: UInt64?
}

/// A backup of one moment: the paths given, and the tree holding them.
public struct Snapshot: Codable, Sendable, Hashable {
    public struct Summary: Codable, Sendable, Hashable {
        public var files = 0
        public var directories = 0
        public var bytes: Int64 = 0
        /// Plain bytes of blobs this snapshot added to the repository.
        public var newBytes: Int64 = 0
        /// Stored bytes of those blobs (compressed and sealed).
        public var storedBytes: Int64 = 0
        public var newBlobs = 0
    }

    public var id: String
    public var time: Date
    public var hostname: String
    public var paths: [String]
    public var tree: BlobID
    public var summary: Summary
    /// For a copy made by `copy`, the id of the snapshot it was copied from.
    public var original: String?
}
