/// How one blob is stored: compressed with zstd unless that saves too little (incompressible
/// data is kept raw, so it costs no decompression later), then sealed. The first plain byte
/// says which.
public struct BlobCodec: Sendable {
    public let key: MasterKey
    /// zstd level, 1–19. Default 3.
    public let level: Int32

    public init(key: MasterKey, level: Int32 = 3) {
        self.key = key
        self.level = level
    }

    static let raw: UInt8 = 0
    static let zstd: UInt8 = 1

    /// The stored form of `plain`.
    public func encode(_ plain: [UInt8]) -> [UInt8] {
        let compressed = Zstd.compress(plain, level: level, after: [Self.zstd])
        // Keep compression only when it saves at least 3%.
        if (compressed.count - 1) * 100 < plain.count * 97 {
            return key.seal(compressed)
        }
        return key.seal([Self.raw] + plain)
    }

    /// The plain bytes of a stored blob of `length` plain bytes.
    public func decode(_ stored: [UInt8], length: Int, what: String) throws(BackupError) -> [UInt8] {
        let opened = try key.open(stored, what: what)
        guard let flag = opened.first else { throw .corrupt("\(what) is empty") }
        switch flag {
        case Self.raw:
            guard opened.count - 1 == length else { throw .corrupt("\(what) has \(opened.count - 1) bytes, the index says \(length)") }
            return Array(opened.dropFirst())
        case Self.zstd:
            return try Zstd.decompress(opened.dropFirst(), expectedSize: length)
        default:
            throw .corrupt("\(what) has an unknown encoding \(flag)")
        }
    }
}
