import Crypto
import Foundation
import Logging
import ZonalCoordination
import ZonalCore

/// The access keys of a store: its root key (``StoreCredentials``), with every right, and the
/// keys `zonal objects keys` made, each with its bucket grants, followed from the coordinator
/// so a key made or deleted on any machine counts on every front end at once.
public final class AccessKeys: Sendable {
    public let root: StoreCredentials
    private let seal: AccessKeySeal
    private let records: FollowedRecords<AccessKeyRecord>

    public init(root: StoreCredentials, store: String, coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.root = root
        seal = AccessKeySeal(rootSecret: root.secretAccessKey)
        records = FollowedRecords(prefix: "/zonal/objects/\(store)/keys/", coordinator: coordinator, clock: clock, logger: logger) { id, record in
            record.id == id && AccessKeyRecord.isID(id)
        }
    }

    /// Follows the keys until cancelled.
    public func run() async {
        await records.run()
    }

    /// The secret of `accessKeyID` as last seen; nil for no such key (or one whose secret does
    /// not open: sealed under another root key).
    public func secret(_ accessKeyID: String) -> String? {
        if accessKeyID == root.accessKeyID { return root.secretAccessKey }
        return records.cached(accessKeyID).flatMap(secret(of:))
    }

    public func secret(of record: AccessKeyRecord) -> String? {
        seal.open(record.sealedSecret, id: record.id)
    }

    /// Reads a key not seen yet from the coordinator: one just made on another machine, which
    /// the watch has not brought yet.
    public func lookUp(_ accessKeyID: String) async -> AccessKeyRecord? {
        guard AccessKeyRecord.isID(accessKeyID) else { return nil }
        return try? await records.get(accessKeyID)
    }

    /// What `accessKeyID` may do.
    public func rights(_ accessKeyID: String) -> KeyRights {
        if accessKeyID == root.accessKeyID { return .root }
        return KeyRights(isRoot: false, grants: records.cached(accessKeyID)?.grants ?? [])
    }

    /// Makes a key with `grants`; returns it and its secret, which is shown only this once.
    public func create(grants: [BucketGrant], description: String?) async throws(S3Error) -> (AccessKeyRecord, secret: String) {
        let (record, secret) = AccessKeyRecord.generate(grants: grants, description: description, seal: seal, at: Date())
        guard try await records.write(record.id, record) else { throw S3Error(.internalError, "a key with the new id \(record.id) exists already") }
        return (record, secret)
    }

    /// Every key but the root key, secrets sealed.
    public func all() async throws(S3Error) -> [AccessKeyRecord] {
        try await records.all()
    }

    /// Deletes `id`; false when there is no such key.
    public func delete(_ id: String) async throws(S3Error) -> Bool {
        guard try await records.stored(id) != nil else { return false }
        try await records.delete(id)
        return true
    }

    /// The owner shown in listings: the key that owns every bucket.
    var ownerID: String { root.accessKeyID }
}

enum SHA256Hex {
    static func of(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).hex
    }
}
