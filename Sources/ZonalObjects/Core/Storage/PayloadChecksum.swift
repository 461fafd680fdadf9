import Crypto
import Foundation

/// The additional checksums of S3 (`x-amz-checksum-crc32`, `-crc32c`, `-sha1`, `-sha256`) that
/// newer SDKs send in a header or an aws-chunked trailer: computed while the body streams and
/// compared before anything is committed.
public struct PayloadChecksum: Sendable {
    public enum Algorithm: String, Sendable, Hashable, Codable, CaseIterable {
        case crc32 = "CRC32"
        case crc32c = "CRC32C"
        case sha1 = "SHA1"
        case sha256 = "SHA256"

        /// The header (or trailer) that carries it: `x-amz-checksum-crc32`.
        public var headerName: String { "x-amz-checksum-\(rawValue.lowercased())" }

        public init?(headerName: String) {
            guard let algorithm = Self.allCases.first(where: { $0.headerName == headerName }) else { return nil }
            self = algorithm
        }
    }

    /// An algorithm and its base64 value.
    public struct Value: Sendable, Hashable, Codable {
        public var algorithm: Algorithm
        public var base64: String

        public init(algorithm: Algorithm, base64: String) {
            self.algorithm = algorithm
            self.base64 = base64
        }
    }

    public let algorithm: Algorithm
    private var crc: UInt32 = 0xFFFF_FFFF
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch algorithm {
        case .crc32: crc = CRC32.update(crc, bytes, table: CRC32.ieeeTable)
        case .crc32c: crc = CRC32.update(crc, bytes, table: CRC32.castagnoliTable)
        case .sha1: sha1.update(bufferPointer: bytes)
        case .sha256: sha256.update(bufferPointer: bytes)
        }
    }

    /// The value of everything updated so far.
    public func finalize() -> Value {
        let bytes: [UInt8]
        switch algorithm {
        case .crc32, .crc32c:
            let value = ~crc
            bytes = [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        case .sha1: bytes = Array(sha1.finalize())
        case .sha256: bytes = Array(sha256.finalize())
        }
        return Value(algorithm: algorithm, base64: Data(bytes).base64EncodedString())
    }
}

/// CRC-32 by table, reflected: the IEEE polynomial (zlib's) and Castagnoli's (CRC-32C).
enum CRC32 {
    static let ieeeTable = table(polynomial: 0xEDB8_8320)
    static let castagnoliTable = table(polynomial: 0x82F6_3B78)

    static func table(polynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            var value = UInt32(index)
            for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ polynomial : value >> 1 }
            return value
        }
    }

    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer, table: [UInt32]) -> UInt32 {
        var crc = crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc
    }
}
