import CZstd

/// zstd compression through Debian's libzstd.
public enum Zstd {
    public static func compress(_ input: [UInt8], level: Int32) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, level)
            }
        }
        precondition(ZSTD_isError(written) == 0, "zstd could not compress into a buffer of its own bound")
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses a frame whose content size zstd recorded; throws on damaged input.
    public static func decompress(_ input: [UInt8], expectedSize: Int) throws(BackupError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedSize)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_decompress(destination.baseAddress, destination.count, source.baseAddress, source.count)
            }
        }
        guard ZSTD_isError(written) == 0, written == expectedSize else {
            throw .corrupt("a compressed blob does not decompress to its recorded size")
        }
        return output
    }
}
