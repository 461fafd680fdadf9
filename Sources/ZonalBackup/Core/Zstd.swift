import CZstd
import Synchronization

/// zstd compression through Debian's libzstd. Contexts are kept for reuse: making one per chunk
/// costs an allocation and the clearing of its tables each time. There are never more than the
/// tasks compressing at once, and they live as long as the process.
public enum Zstd {
    /// A context, used by one task at a time (it is taken out of the pool while in use).
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static let idleCompressors = Mutex<[Context]>([])
    private static let idleDecompressors = Mutex<[Context]>([])

    /// `header` followed by the zstd frame of `input`.
    public static func compress(_ input: [UInt8], level: Int32, after header: [UInt8] = []) -> [UInt8] {
        let context = idleCompressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createCCtx())
        defer { idleCompressors.withLock { $0.append(context) } }
        let capacity = header.count + ZSTD_compressBound(input.count)
        return [UInt8](unsafeUninitializedCapacity: capacity) { output, count in
            _ = output.initialize(from: header)
            let written = input.withUnsafeBytes { source in
                ZSTD_compressCCtx(context.pointer, output.baseAddress! + header.count, capacity - header.count, source.baseAddress, source.count, level)
            }
            precondition(ZSTD_isError(written) == 0, "zstd could not compress into a buffer of its own bound")
            count = header.count + written
        }
    }

    /// Decompresses a frame whose content size zstd recorded; throws on damaged input.
    public static func decompress(_ input: ArraySlice<UInt8>, expectedSize: Int) throws(BackupError) -> [UInt8] {
        let context = idleDecompressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createDCtx())
        defer { idleDecompressors.withLock { $0.append(context) } }
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: expectedSize) { output, count in
            let written = input.withUnsafeBytes { source in
                ZSTD_decompressDCtx(context.pointer, output.baseAddress, expectedSize, source.baseAddress, source.count)
            }
            failed = ZSTD_isError(written) != 0 || written != expectedSize
            // Bytes zstd did not write are never read: the array is empty on failure.
            count = failed ? 0 : written
        }
        guard !failed else { throw .corrupt("a compressed blob does not decompress to its recorded size") }
        return output
    }
}
