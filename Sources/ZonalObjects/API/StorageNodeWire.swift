import Foundation

/// The storage nodes' internal API, shared by ``StorageNodeServer`` and ``StorageNodeClient``.
/// Keys travel hex-encoded in the query, so no key byte is ever part of a path.
public enum StorageNodeWire {
    public struct CommitRequest: Codable, Sendable {
        /// The upload holding the bytes; nil for a delete marker.
        public var upload: String?
        public var version: ObjectVersion
        /// Only the record changes (new tags): the node keeps the version's file and digests.
        public var retag: Bool?
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
