// swift-format-ignore-file: AlwaysUseLowerCamelCase
// The properties carry etcd's own JSON field names (`range_end`, `TTL`, `ID`).

import Foundation

/// The JSON of etcd v3's gRPC gateway (`/v3/...`), as far as Zonal uses it. ``EtcdCoordinator``
/// sends and reads it; ``CoordinatorServer`` serves it, so the embedded coordinator answers the
/// same requests as etcd. Bytes are base64; 64-bit integers are strings; zero values are omitted.
enum Gateway {
    /// A 64-bit integer written as a JSON string (and read from a string or a number).
    struct Int64Text: Codable, Hashable {
        var value: Int64

        init(_ value: Int64) { self.value = value }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                // Member and cluster IDs are unsigned 64-bit: keep their bits.
                guard let value = Int64(text) ?? UInt64(text).map(Int64.init(bitPattern:)) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a 64-bit integer: \(text)")
                }
                self.value = value
            } else {
                self.value = try container.decode(Int64.self)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(String(value))
        }
    }

    /// Base64 text of raw bytes.
    struct Bytes: Codable, Hashable {
        var bytes: [UInt8]

        init(_ bytes: [UInt8]) { self.bytes = bytes }
        init(_ text: String) { self.bytes = Array(text.utf8) }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not base64: \(text)")
            }
            bytes = Array(data)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(Data(bytes).base64EncodedString())
        }

        var string: String { String(decoding: bytes, as: UTF8.self) }
    }

    struct Header: Codable, Hashable {
        var revision: Int64Text?
        var member_id: Int64Text?
    }

    struct KeyValueJSON: Codable, Hashable {
        var key: Bytes
        var value: Bytes?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var version: Int64Text?
        var lease: Int64Text?

        init(_ keyValue: KeyValue) {
            key = Bytes(keyValue.key)
            value = keyValue.value.isEmpty ? nil : Bytes(keyValue.value)
            create_revision = Int64Text(keyValue.createRevision)
            mod_revision = Int64Text(keyValue.modRevision)
            version = Int64Text(keyValue.version)
            lease = keyValue.lease.map { Int64Text($0.rawValue) }
        }

        var model: KeyValue {
            KeyValue(
                key: key.string, value: value?.bytes ?? [], createRevision: create_revision?.value ?? 0,
                modRevision: mod_revision?.value ?? 0, version: version?.value ?? 0,
                lease: lease.flatMap { $0.value == 0 ? nil : LeaseID(rawValue: $0.value) })
        }
    }

    struct RangeRequest: Codable {
        var key: Bytes
        var range_end: Bytes?
    }
    struct RangeResponse: Codable {
        var header: Header?
        var kvs: [KeyValueJSON]?
        var count: Int64Text?
    }
    struct PutRequest: Codable {
        var key: Bytes
        var value: Bytes?
        var lease: Int64Text?
    }
    struct PutResponse: Codable { var header: Header? }
    struct DeleteRangeRequest: Codable {
        var key: Bytes
        var range_end: Bytes?
    }
    struct DeleteRangeResponse: Codable {
        var header: Header?
        var deleted: Int64Text?
    }

    struct Compare: Codable {
        var result: String?
        var target: String?
        var key: Bytes
        var mod_revision: Int64Text?
        var create_revision: Int64Text?
        var version: Int64Text?
        var value: Bytes?
    }

    struct RequestOp: Codable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct ResponseOp: Codable {
        var response_range: RangeResponse?
        var response_put: PutResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnRequest: Codable {
        var compare: [Compare]?
        var success: [RequestOp]?
        var failure: [RequestOp]?
    }
    struct TxnResponse: Codable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct LeaseGrantRequest: Codable {
        var TTL: Int64Text
        var ID: Int64Text?
    }
    struct LeaseGrantResponse: Codable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
        var error: String?
    }
    struct LeaseIDRequest: Codable { var ID: Int64Text }
    struct LeaseKeepAliveResult: Codable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
    }
    struct LeaseKeepAliveResponse: Codable { var result: LeaseKeepAliveResult? }
    struct LeaseRevokeResponse: Codable { var header: Header? }
    struct LeaseTimeToLiveResponse: Codable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
        var grantedTTL: Int64Text?
    }

    struct WatchCreateRequest: Codable {
        var key: Bytes
        var range_end: Bytes?
        var start_revision: Int64Text?
    }
    struct WatchRequest: Codable { var create_request: WatchCreateRequest }
    struct Event: Codable {
        var type: String?
        var kv: KeyValueJSON
    }
    struct WatchResult: Codable {
        var header: Header?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: Int64Text?
        var cancel_reason: String?
        var events: [Event]?
    }
    struct WatchResponse: Codable {
        var result: WatchResult?
        var error: ErrorBody?
    }

    struct CompactionRequest: Codable { var revision: Int64Text }
    struct StatusResponse: Codable {
        var header: Header?
        var version: String?
        var leader: Int64Text?
    }

    struct AuthenticateRequest: Codable {
        var name: String
        var password: String
    }
    struct AuthenticateResponse: Codable {
        var header: Header?
        var token: String?
    }
    struct AuthUserRequest: Codable {
        var name: String
        var password: String
    }
    struct AuthGrantRoleRequest: Codable {
        var user: String
        var role: String
    }
    struct AuthEnableRequest: Codable {}
    struct AuthResponse: Codable { var header: Header? }

    /// How the gateway reports a failed call (HTTP 4xx/5xx).
    struct ErrorBody: Codable {
        var error: String?
        var message: String?
        var code: Int?
    }

    /// etcd's message for a lease that does not exist, which clients match on.
    static let leaseNotFound = "etcdserver: requested lease not found"
    /// etcd's message for a wrong user name or password.
    static let authenticationFailed = "etcdserver: authentication failed, invalid user ID or password"
    /// etcd's answer to `auth/authenticate` while authentication is off (HTTP 412).
    static let authenticationNotEnabled = "etcdserver: authentication is not enabled"
}

extension Transaction.Compare {
    var gateway: Gateway.Compare {
        var compare = Gateway.Compare(result: relation.rawValue, key: Gateway.Bytes(key))
        switch target {
        case .modRevision(let revision):
            compare.target = "MOD"
            compare.mod_revision = Gateway.Int64Text(revision)
        case .createRevision(let revision):
            compare.target = "CREATE"
            compare.create_revision = Gateway.Int64Text(revision)
        case .version(let version):
            compare.target = "VERSION"
            compare.version = Gateway.Int64Text(version)
        case .value(let value):
            compare.target = "VALUE"
            compare.value = Gateway.Bytes(value)
        }
        return compare
    }

    init(gateway: Gateway.Compare) throws(CoordinatorError) {
        // The gateway omits zero values: no `result` means EQUAL, no `target` means VERSION.
        guard let relation = Relation(rawValue: gateway.result ?? "EQUAL") else {
            throw .rejected("unknown compare result \(gateway.result ?? "")")
        }
        let target: Target
        switch gateway.target ?? "VERSION" {
        case "MOD": target = .modRevision(gateway.mod_revision?.value ?? 0)
        case "CREATE": target = .createRevision(gateway.create_revision?.value ?? 0)
        case "VERSION": target = .version(gateway.version?.value ?? 0)
        case "VALUE": target = .value(gateway.value?.bytes ?? [])
        case let other: throw .rejected("unknown compare target \(other)")
        }
        self.init(key: gateway.key.string, relation, target)
    }
}

extension Transaction.Operation {
    var gateway: Gateway.RequestOp {
        switch self {
        case .put(let key, let value, let lease):
            Gateway.RequestOp(request_put: .init(key: Gateway.Bytes(key), value: Gateway.Bytes(value), lease: lease.map { Gateway.Int64Text($0.rawValue) }))
        case .delete(let key):
            Gateway.RequestOp(request_delete_range: .init(key: Gateway.Bytes(key)))
        case .get(let key):
            Gateway.RequestOp(request_range: .init(key: Gateway.Bytes(key)))
        }
    }

    /// Single-key operations only: the embedded coordinator serves what Zonal's client sends.
    init(gateway: Gateway.RequestOp) throws(CoordinatorError) {
        if let put = gateway.request_put {
            self = .put(key: put.key.string, value: put.value?.bytes ?? [], lease: put.lease.flatMap { $0.value == 0 ? nil : LeaseID(rawValue: $0.value) })
        } else if let delete = gateway.request_delete_range, delete.range_end == nil {
            self = .delete(key: delete.key.string)
        } else if let range = gateway.request_range, range.range_end == nil {
            self = .get(key: range.key.string)
        } else {
            throw .rejected("only single-key put, delete and range operations are supported in transactions")
        }
    }
}
