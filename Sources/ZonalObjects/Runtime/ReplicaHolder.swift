import AsyncHTTPClient
import NIOCore

/// Something that holds replicas and can take new ones: another storage node across the
/// network, or this node's own store. A repair copies from one to another without caring which
/// is which, so the front ends' repair on read and the nodes' scrubber share one copy.
protocol ReplicaHolder: Sendable {
    associatedtype Bytes: AsyncSequence & Sendable where Bytes.Element == ByteBuffer

    /// The storage node's name, for logs and reports.
    var name: String { get }

    /// The newest version of `key`, or the one named `versionID`; nil when it has none.
    func version(bucket: String, key: String, versionID: String?) async throws(ObjectsError) -> ObjectVersion?

    /// All the verified bytes of `version`.
    func bytes(of version: ObjectVersion, deadline: Duration) async throws(ObjectsError) -> Bytes

    /// Takes `body` into a temporary upload, to be committed with ``commit(upload:version:)``.
    func upload<Body: AsyncSequence & Sendable>(_ body: Body, length: Int64?, deadline: Duration) async throws(ObjectsError) -> ReplicaStore.Receipt
    where Body.Element == ByteBuffer

    /// Makes `version` visible, with the bytes of `upload` (none for a record without bytes).
    func commit(upload: String?, version: ObjectVersion) async throws(ObjectsError)
}

extension ReplicaHolder {
    /// Copies the version `versionID` of `key` from here to `target`. The record is read from
    /// here by version id, so a copy is exactly the acknowledged version, digests included;
    /// false when this holder does not have it (or holds only its purge record). The bytes of a completed multipart object are
    /// its parts', which are replicas of their own.
    func copy(bucket: String, key: String, versionID: String, to target: some ReplicaHolder, deadline: Duration) async throws(ObjectsError) -> Bool {
        guard let record = try await version(bucket: bucket, key: key, versionID: versionID), record.isPurged != true else { return false }
        var upload: String?
        if !record.isDeleteMarker && record.parts == nil {
            upload = try await target.upload(try await bytes(of: record, deadline: deadline), length: record.size, deadline: deadline).upload
        }
        try await target.commit(upload: upload, version: record)
        return true
    }
}

extension StorageNodeClient: ReplicaHolder {
    var name: String { node.name }

    func bytes(of version: ObjectVersion, deadline: Duration) async throws(ObjectsError) -> HTTPClientResponse.Body {
        try await bytes(of: version, range: nil, deadline: deadline)
    }
}

/// This node's own store as a ``ReplicaHolder``.
struct LocalReplicas: ReplicaHolder {
    let name: String
    let store: ReplicaStore

    func version(bucket: String, key: String, versionID: String?) async throws(ObjectsError) -> ObjectVersion? {
        try await store.version(bucket: bucket, key: key, versionID: versionID)
    }

    func bytes(of version: ObjectVersion, deadline: Duration) async throws(ObjectsError) -> ReplicaBytes {
        try await store.read(bucket: version.bucket, key: version.key, versionID: version.versionID, range: nil).1
    }

    func upload<Body: AsyncSequence & Sendable>(_ body: Body, length: Int64?, deadline: Duration) async throws(ObjectsError) -> ReplicaStore.Receipt
    where Body.Element == ByteBuffer {
        try await store.receive(body)
    }

    func commit(upload: String?, version: ObjectVersion) async throws(ObjectsError) {
        try await store.commit(upload: upload, version: version)
    }
}
