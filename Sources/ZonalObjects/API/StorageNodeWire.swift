import Foundation

/// The storage nodes' internal API, shared by ``StorageNodeServer`` and ``StorageNodeClient``.
/// Keys travel hex-encoded in the query, so no key byte is ever part of a path.
public enum StorageNodeWire {
    public struct CommitRequest: Codable, Sendable {
        /// The upload holding the bytes; nil for a delete marker.
        public var upload: String?
        public var version: ObjectVersion
    }

    public struct ErrorAnswer: Codable, Sendable {
        public var error: String
        public var kind: String
    }

    /// The kind names of ``ObjectsError`` on the wire.
    static func kind(of error: ObjectsError) -> String {
        switch error {
        case .configuration: "configuration"
        case .storage: "storage"
        case .diskFull: "disk-full"
        case .notFound: "not-found"
        case .corrupt: "corrupt"
        case .invalid: "invalid"
        }
    }

    static func error(kind: String, message: String) -> ObjectsError {
        switch kind {
        case "disk-full": .diskFull(message)
        case "not-found": .notFound(message)
        case "corrupt": .corrupt(message)
        case "invalid": .invalid(message)
        case "configuration": .configuration(message)
        default: .storage(message)
        }
    }

    static func status(of error: ObjectsError) -> Int {
        switch error {
        case .diskFull: 507
        case .notFound: 404
        case .invalid: 409
        case .corrupt, .storage, .configuration: 500
        }
    }

    /// The header that carries a version record (JSON, base64) with its bytes.
    static let versionHeader = "x-zonal-version"
}

extension [UInt8] {
    init?(hexText: String) {
        let digits = Array(hexText.utf8)
        guard digits.count % 2 == 0, digits.count <= 4096 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
