/// What each client of the coordinator server holds, so that one client — a runaway loop, a
/// bug — cannot take the store's keys or leases from all the others. Clients are told apart by
/// the session their login opened. Pure: the shell reports what it granted, wrote and deleted,
/// and, when a client reaches a limit, which of its leases and keys still exist (leases expire
/// and other clients delete keys without this type seeing it).
public struct ClientQuotas: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Leases one client holds at once. Default 1,000 (a Zonal process holds a few).
        public var leasesPerClient = 1_000
        /// Keys one client has written that still exist. Default 100,000: a balancer shares a
        /// placement per client address of its affinity table, which holds that many.
        public var keysPerClient = 100_000
        /// Names remembered for all clients together before every client's are checked
        /// against the store, which bounds this type's memory. Default 2,000,000.
        public var trackedNames = 2_000_000

        public init() {}
    }

    /// What one client holds, as far as this type knows: possibly more than still exists.
    public struct Holdings: Sendable, Hashable {
        public var leases: Set<LeaseID> = []
        public var keys: Set<String> = []
    }

    public let limits: Limits
    public private(set) var holdings: [String: Holdings] = [:]
    private var trackedNames = 0

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    // MARK: leases

    /// The leases to look up before `client` may have another: nil while it is under its limit.
    public func leasesToRecheck(for client: String) -> Set<LeaseID>? {
        let held = holdings[client]?.leases ?? []
        return held.count >= limits.leasesPerClient ? held : nil
    }

    /// Admits one more lease for `client`, given which of its leases `stillHeld` (from
    /// ``leasesToRecheck(for:)``; nil when there was nothing to recheck).
    public mutating func admitLease(for client: String, stillHeld: Set<LeaseID>?) throws(CoordinatorError) {
        if let stillHeld { replace(client) { $0.leases = $0.leases.intersection(stillHeld) } }
        let count = holdings[client]?.leases.count ?? 0
        guard count < limits.leasesPerClient else {
            throw .rejected("this client holds \(count) leases, the limit per client (revoke leases it no longer uses)")
        }
    }

    public mutating func granted(_ lease: LeaseID, to client: String) {
        replace(client) { $0.leases.insert(lease) }
    }

    public mutating func revoked(_ lease: LeaseID, by client: String) {
        replace(client) { $0.leases.remove(lease) }
    }

    // MARK: keys

    /// The keys to look up before `client` may write `keys`: nil while the new ones fit.
    public func keysToRecheck(for client: String, writing keys: some Collection<String>) -> Set<String>? {
        let held = holdings[client]?.keys ?? []
        let new = keys.filter { !held.contains($0) }.count
        return held.count + new > limits.keysPerClient ? held : nil
    }

    /// Admits `keys` for `client`, given which of its keys `stillHeld` exist (see
    /// ``keysToRecheck(for:writing:)``), and counts them as its own.
    public mutating func admitKeys(_ keys: some Collection<String>, for client: String, stillHeld: Set<String>?) throws(CoordinatorError) {
        if let stillHeld { replace(client) { $0.keys = $0.keys.intersection(stillHeld) } }
        let held = holdings[client]?.keys ?? []
        let new = Set(keys.filter { !held.contains($0) })
        guard held.count + new.count <= limits.keysPerClient else {
            throw .rejected("this client has written \(held.count) keys that still exist, the limit per client is \(limits.keysPerClient)")
        }
        replace(client) { $0.keys.formUnion(new) }
    }

    public mutating func deleted(_ keys: some Sequence<String>, by client: String) {
        replace(client) { holdings in
            for key in keys { holdings.keys.remove(key) }
        }
    }

    // MARK: bookkeeping

    /// Whether every client's names should be checked against the store (then ``prune(keeping:leases:)``).
    public var needsPruning: Bool { trackedNames > limits.trackedNames }

    /// Keeps of every client's names only the keys and leases that still exist.
    public mutating func prune(keeping existingKeys: Set<String>, leases existingLeases: Set<LeaseID>) {
        for client in Array(holdings.keys) {
            replace(client) { holdings in
                holdings.keys.formIntersection(existingKeys)
                holdings.leases.formIntersection(existingLeases)
            }
        }
    }

    /// Every name some client holds: what ``prune(keeping:leases:)`` wants looked up.
    public var allHoldings: Holdings {
        holdings.values.reduce(into: Holdings()) { all, one in
            all.keys.formUnion(one.keys)
            all.leases.formUnion(one.leases)
        }
    }

    /// Forgets a client whose session ended; what it holds stays in the store.
    public mutating func forget(_ client: String) {
        replace(client) { $0 = Holdings() }
    }

    private mutating func replace(_ client: String, _ change: (inout Holdings) -> Void) {
        var entry = holdings[client] ?? Holdings()
        let before = entry.keys.count + entry.leases.count
        change(&entry)
        trackedNames += entry.keys.count + entry.leases.count - before
        holdings[client] = entry.keys.isEmpty && entry.leases.isEmpty ? nil : entry
    }
}
