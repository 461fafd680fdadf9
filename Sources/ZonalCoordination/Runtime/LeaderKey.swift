import ZonalCore

/// A replicated service's leader key: the name of the node that leads, on that node's lease.
/// Every change is a transaction that keeps one leader — taken only while absent, moved onto a
/// new lease or given up only by its holder — as the database and cache agents both need it.
public struct LeaderKey: Sendable {
    public let coordinator: any Coordinator
    public let key: String

    public init(coordinator: any Coordinator, key: String) {
        self.coordinator = coordinator
        self.key = key
    }

    /// Takes the key for `node` if nobody holds it, writing `alongside` in the same transaction.
    public func acquire(node: String, lease: LeaseID, alongside: [Transaction.Operation] = []) async throws -> Bool {
        try await coordinator.transaction(
            Transaction(compares: [.absent(key)], success: [.put(key: key, value: Array(node.utf8), lease: lease)] + alongside)
        ).succeeded
    }

    /// Moves the key of `node` onto `lease`: a restarted agent takes over the key its previous run
    /// held instead of waiting for that run's lease to expire.
    public func rebind(node: String, lease: LeaseID) async throws -> Bool {
        try await coordinator.transaction(Transaction(compares: [held(by: node)], success: [.put(key: key, value: Array(node.utf8), lease: lease)]))
            .succeeded
    }

    /// Deletes the key if `node` holds it.
    public func release(node: String) async throws {
        _ = try await coordinator.transaction(Transaction(compares: [held(by: node)], success: [.delete(key: key)]))
    }

    /// Writes `value` at `other` only while `node` holds the key.
    public func put(_ other: String, value: [UInt8], whileHeldBy node: String) async throws -> Bool {
        try await coordinator.transaction(Transaction(compares: [held(by: node)], success: [.put(key: other, value: value, lease: nil)])).succeeded
    }

    /// The comparison that holds while `node` holds the key.
    public func held(by node: String) -> Transaction.Compare {
        Transaction.Compare(key: key, .equal, .value(Array(node.utf8)))
    }
}
