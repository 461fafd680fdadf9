/// The one source of truth for leadership and cluster state.
///
/// Two backends implement it with the same semantics — etcd v3 (``EtcdCoordinator``) for
/// deployments across machines and ``EmbeddedCoordinator`` for one machine — and one
/// conformance suite tests both. Revisions are etcd's: one counter for the whole store, raised
/// by every change.
public protocol Coordinator: Sendable {
    func get(_ key: String) async throws(CoordinatorError) -> KeyValue?

    /// Every key starting with `prefix`, in key order.
    func range(prefix: String) async throws(CoordinatorError) -> RangeResult

    /// Writes `value`; returns the new revision.
    @discardableResult
    func put(_ key: String, value: [UInt8], lease: LeaseID?) async throws(CoordinatorError) -> Int64

    /// Deletes `key`; returns whether it existed.
    @discardableResult
    func delete(_ key: String) async throws(CoordinatorError) -> Bool

    func transaction(_ transaction: Transaction) async throws(CoordinatorError) -> TransactionResult

    func grantLease(ttl: Duration) async throws(CoordinatorError) -> Lease

    /// Renews a lease once; returns the TTL it has again. Throws ``CoordinatorError/leaseNotFound(_:)``
    /// once it has expired. ``LeaseKeeper`` calls this on a schedule.
    func renewLease(_ id: LeaseID) async throws(CoordinatorError) -> Duration

    func revokeLease(_ id: LeaseID) async throws(CoordinatorError)

    /// The lease's remaining time, or nil when it no longer exists.
    func timeToLive(_ id: LeaseID) async throws(CoordinatorError) -> Duration?

    /// Every change under `prefix` from `revision` on (inclusive), in order and without gaps.
    /// The stream throws ``CoordinatorError/compacted(requested:compactedThrough:)`` when that
    /// history is gone; after any other error, watch again from the last revision seen plus one.
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error>

    /// Forgets history before `revision`.
    func compact(through revision: Int64) async throws(CoordinatorError)

    func status() async throws(CoordinatorError) -> CoordinatorStatus
}

extension Coordinator {
    @discardableResult
    public func put(_ key: String, _ value: String, lease: LeaseID? = nil) async throws(CoordinatorError) -> Int64 {
        try await put(key, value: Array(value.utf8), lease: lease)
    }

    /// Compare-and-swap: writes `value` only if `key` was last modified at `expectedRevision`
    /// (0: only if it does not exist). Returns the new revision, or nil when someone else won.
    public func compareAndSwap(_ key: String, expectedRevision: Int64, value: [UInt8], lease: LeaseID? = nil) async throws(CoordinatorError) -> Int64? {
        let result = try await transaction(
            Transaction(
                compares: [.unchanged(key, since: expectedRevision)],
                success: [.put(key: key, value: value, lease: lease)]
            ))
        return result.succeeded ? result.revision : nil
    }
}

/// The smallest key greater than every key starting with `prefix` — etcd's `range_end`.
public func prefixRangeEnd(_ prefix: String) -> [UInt8] {
    var bytes = Array(prefix.utf8)
    while let last = bytes.last {
        if last < 0xFF {
            bytes[bytes.count - 1] = last + 1
            return bytes
        }
        bytes.removeLast()
    }
    return [0]  // every key
}
