import ZonalCore

/// The embedded coordinator's state and rules: keys with etcd's revisions, leases, transactions
/// and the history that watches read.
///
/// Pure and deterministic: the time comes in as a value and every change returns the events it
/// caused. Replaying the same mutations on an empty store gives the same store, which is how
/// the journal restores it.
public struct KeyValueStore: Sendable {
    struct LeaseRecord: Sendable, Hashable {
        var ttl: Duration
        var expiresAt: MonotonicInstant
        var keys: Set<String> = []
    }

    /// The revision of the latest change; 0 for an empty store.
    public private(set) var revision: Int64 = 0
    /// History up to and including this revision is gone; watches must start after it.
    public private(set) var compactedThrough: Int64 = 0
    private var keys: [String: KeyValue] = [:]
    private var history: [WatchEvent] = []
    private var leases: [LeaseID: LeaseRecord] = [:]
    private var lastLeaseID: Int64 = 0
    /// History kept for watches, in revisions; older events are compacted automatically.
    public var historyLimit: Int64 = 100_000

    public init() {}

    // MARK: Reads

    /// How many keys the store holds.
    public var keyCount: Int { keys.count }
    /// How many leases are granted and not yet revoked.
    public var leaseCount: Int { leases.count }

    public func get(_ key: String) -> KeyValue? {
        keys[key]
    }

    public func range(prefix: String) -> RangeResult {
        let matching = keys.values.filter { $0.key.hasPrefix(prefix) }.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        return RangeResult(keyValues: matching, revision: revision)
    }

    /// Events under `prefix` with revision ≥ `from`, or the compaction that makes them unavailable.
    public func events(prefix: String, from: Int64) throws(CoordinatorError) -> [WatchEvent] {
        if from > 0 && from <= compactedThrough {
            throw .compacted(requested: from, compactedThrough: compactedThrough)
        }
        let start = history.firstIndex { $0.revision >= from } ?? history.endIndex
        return history[start...].filter { $0.keyValue.key.hasPrefix(prefix) }
    }

    // MARK: Writes

    /// One write: a revision of its own. Throws for a lease that does not exist.
    public mutating func put(_ key: String, value: [UInt8], lease: LeaseID?) throws(CoordinatorError) -> [WatchEvent] {
        if let lease, leases[lease] == nil { throw .leaseNotFound(lease) }
        revision += 1
        return [write(key, value: value, lease: lease)]
    }

    public mutating func delete(_ key: String) -> [WatchEvent] {
        guard keys[key] != nil else { return [] }
        revision += 1
        return [remove(key)]
    }

    /// Applies a transaction atomically; all its writes share one revision.
    public mutating func apply(_ transaction: Transaction) throws(CoordinatorError) -> (TransactionResult, [WatchEvent]) {
        let succeeded = transaction.compares.allSatisfy(holds)
        let operations = succeeded ? transaction.success : transaction.failure
        for case .put(_, _, let lease?) in operations where leases[lease] == nil {
            throw .leaseNotFound(lease)
        }
        let writes = operations.contains { operation in
            switch operation {
            case .put: return true
            case .delete(let key): return keys[key] != nil
            case .get: return false
            }
        }
        if writes { revision += 1 }
        var events: [WatchEvent] = []
        var gets: [KeyValue?] = []
        for operation in operations {
            switch operation {
            case .put(let key, let value, let lease): events.append(write(key, value: value, lease: lease))
            case .delete(let key): if keys[key] != nil { events.append(remove(key)) }
            case .get(let key): gets.append(keys[key])
            }
        }
        return (TransactionResult(succeeded: succeeded, revision: revision, gets: gets), events)
    }

    // MARK: Leases

    public mutating func grantLease(ttl: Duration, now: MonotonicInstant) -> Lease {
        lastLeaseID += 1
        let id = LeaseID(rawValue: lastLeaseID)
        leases[id] = LeaseRecord(ttl: ttl, expiresAt: now + ttl)
        return Lease(id: id, ttl: ttl)
    }

    /// Renews a live lease for its whole TTL from `now`.
    public mutating func renewLease(_ id: LeaseID, now: MonotonicInstant) throws(CoordinatorError) -> Duration {
        guard var lease = leases[id], lease.expiresAt > now else { throw .leaseNotFound(id) }
        lease.expiresAt = now + lease.ttl
        leases[id] = lease
        return lease.ttl
    }

    /// Revokes a lease and deletes its keys, all at one revision.
    public mutating func revokeLease(_ id: LeaseID) throws(CoordinatorError) -> [WatchEvent] {
        guard let lease = leases.removeValue(forKey: id) else { throw .leaseNotFound(id) }
        let attached = lease.keys.filter { keys[$0]?.lease == id }.sorted()
        guard !attached.isEmpty else { return [] }
        revision += 1
        return attached.map { remove($0) }
    }

    public func timeToLive(_ id: LeaseID, now: MonotonicInstant) -> Duration? {
        guard let lease = leases[id], lease.expiresAt > now else { return nil }
        return lease.expiresAt - now
    }

    /// Leases whose time has come, oldest first; the runtime revokes (and journals) each.
    public func expiredLeases(now: MonotonicInstant) -> [LeaseID] {
        leases.filter { $0.value.expiresAt <= now }.sorted { $0.value.expiresAt < $1.value.expiresAt }.map(\.key)
    }

    /// When the next lease expires, for the runtime's timer.
    public var nextLeaseExpiry: MonotonicInstant? {
        leases.values.map(\.expiresAt).min()
    }

    /// After a restart every lease gets its full TTL again: the time it was down is not held
    /// against its owner, who could not renew.
    public mutating func restartLeaseClocks(now: MonotonicInstant) {
        leases = leases.mapValues { lease in
            var restarted = lease
            restarted.expiresAt = now + lease.ttl
            return restarted
        }
    }

    // MARK: History

    public mutating func compact(through target: Int64) throws(CoordinatorError) {
        guard target <= revision else { throw .rejected("cannot compact through revision \(target): the store is at \(revision)") }
        guard target > compactedThrough else { return }
        compactedThrough = target
        history.removeAll { $0.revision <= target }
    }

    // MARK: Internals

    private mutating func write(_ key: String, value: [UInt8], lease: LeaseID?) -> WatchEvent {
        let previous = keys[key]
        if let old = previous?.lease, old != lease { leases[old]?.keys.remove(key) }
        if let lease { leases[lease]?.keys.insert(key) }
        let keyValue = KeyValue(
            key: key, value: value, createRevision: previous?.createRevision ?? revision, modRevision: revision,
            version: (previous?.version ?? 0) + 1, lease: lease)
        keys[key] = keyValue
        return record(WatchEvent(kind: .put, keyValue: keyValue))
    }

    private mutating func remove(_ key: String) -> WatchEvent {
        let previous = keys.removeValue(forKey: key)
        if let lease = previous?.lease { leases[lease]?.keys.remove(key) }
        return record(WatchEvent(kind: .delete, keyValue: KeyValue(key: key, value: [], createRevision: 0, modRevision: revision, version: 0, lease: nil)))
    }

    private mutating func record(_ event: WatchEvent) -> WatchEvent {
        history.append(event)
        if revision - compactedThrough > historyLimit {
            try? compact(through: revision - historyLimit)
        }
        return event
    }

    private func holds(_ compare: Transaction.Compare) -> Bool {
        let current = keys[compare.key]
        func relate<T: Comparable>(_ actual: T, _ expected: T) -> Bool {
            switch compare.relation {
            case .equal: actual == expected
            case .notEqual: actual != expected
            case .less: actual < expected
            case .greater: actual > expected
            }
        }
        switch compare.target {
        case .modRevision(let expected): return relate(current?.modRevision ?? 0, expected)
        case .createRevision(let expected): return relate(current?.createRevision ?? 0, expected)
        case .version(let expected): return relate(current?.version ?? 0, expected)
        case .value(let expected):
            guard let current else { return false }
            return relate(current.value.lexicographicallyPrecedes(expected) ? -1 : (current.value == expected ? 0 : 1), 0)
        }
    }
}

extension KeyValueStore {
    /// What the journal needs to rebuild the store: every key and lease, and the counters.
    public struct Snapshot: Sendable, Hashable, Codable {
        public struct LeaseEntry: Sendable, Hashable, Codable {
            public var id: LeaseID
            public var ttl: Duration
        }

        public var revision: Int64
        public var lastLeaseID: Int64
        public var keys: [KeyValue]
        public var leases: [LeaseEntry]
    }

    public var snapshot: Snapshot {
        Snapshot(
            revision: revision, lastLeaseID: lastLeaseID, keys: keys.values.sorted { $0.key < $1.key },
            leases: leases.sorted { $0.key.rawValue < $1.key.rawValue }.map { Snapshot.LeaseEntry(id: $0.key, ttl: $0.value.ttl) })
    }

    /// A store holding a snapshot's state; history before it counts as compacted.
    public init(snapshot: Snapshot, now: MonotonicInstant) {
        self.init()
        revision = snapshot.revision
        compactedThrough = snapshot.revision
        lastLeaseID = snapshot.lastLeaseID
        for lease in snapshot.leases {
            leases[lease.id] = LeaseRecord(ttl: lease.ttl, expiresAt: now + lease.ttl)
        }
        for keyValue in snapshot.keys {
            keys[keyValue.key] = keyValue
            if let lease = keyValue.lease { leases[lease]?.keys.insert(keyValue.key) }
        }
    }
}
