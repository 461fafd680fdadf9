import Crypto
import Foundation
import NIOCore
import NIOPosix

/// The bytes of one replica in a range, as an async sequence that reads (on NIO's thread pool)
/// and verifies one block each time the consumer asks: the reader sets the pace, so a slow
/// client never makes the node buffer more than a block.
public struct ReplicaBytes: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let path: String
    let size: Int64
    let range: ClosedRange<Int64>
    let blockSize: Int
    let digests: [UInt8]
    let threadPool: NIOThreadPool
    /// Called once when the file is missing or a block fails its digest.
    let onCorruption: @Sendable (String) async -> Void

    public func makeAsyncIterator() -> Iterator {
        Iterator(bytes: self, block: size == 0 ? nil : range.lowerBound / Int64(blockSize))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let bytes: ReplicaBytes
        var block: Int64?
        var file: OpenFile?

        public mutating func next() async throws -> ByteBuffer? {
            guard let current = block, current * Int64(bytes.blockSize) <= bytes.range.upperBound else { return nil }
            if file == nil {
                guard let opened = OpenFile(path: bytes.path) else {
                    block = nil
                    await bytes.onCorruption("its file is missing")
                    throw ObjectsError.corrupt("the replica file \(bytes.path) is missing")
                }
                file = opened
            }
            let start = current * Int64(bytes.blockSize)
            let length = Int(Swift.min(Int64(bytes.blockSize), bytes.size - start))
            let expected = Array(bytes.digests.dropFirst(Int(current) * 32).prefix(32))
            let descriptor = file!.descriptor
            var buffer: ByteBuffer
            do {
                buffer = try await bytes.threadPool.runIfActive { try Self.readBlock(descriptor, offset: start, length: length, expected: expected) }
            } catch {
                block = nil
                await bytes.onCorruption("block \(current) \(error)")
                throw error
            }
            let from = Int(Swift.max(bytes.range.lowerBound - start, 0))
            let to = Int(Swift.min(bytes.range.upperBound - start + 1, Int64(length)))
            buffer.moveReaderIndex(forwardBy: from)
            buffer.moveWriterIndex(to: buffer.readerIndex + (to - from))
            block = current + 1
            return buffer
        }

        private static func readBlock(_ descriptor: Int32, offset: Int64, length: Int, expected: [UInt8]) throws -> ByteBuffer {
            var buffer = ByteBufferAllocator().buffer(capacity: length)
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { pointer in
                var done = 0
                while done < length {
                    let count = pread(descriptor, pointer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    done += count
                }
                return done
            }
            guard read == length else { throw ObjectsError.corrupt("is shorter than its record") }
            let digest = buffer.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) }
            guard digest == expected else { throw ObjectsError.corrupt("does not match its digest") }
            return buffer
        }
    }

    /// A file descriptor closed when the last iterator holding it goes.
    final class OpenFile: Sendable {
        let descriptor: Int32

        init?(path: String) {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return nil }
            self.descriptor = descriptor
        }

        deinit { close(descriptor) }
    }
}
