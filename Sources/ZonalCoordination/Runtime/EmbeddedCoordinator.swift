import Foundation
import ZonalCore

/// The coordinator for one machine: the whole ``KeyValueStore`` in this process, each change
/// journaled and fsync'd before it is acknowledged, leases expired by the injected clock.
///
/// Other processes reach it through ``CoordinatorServer`` (`zonal coordinator serve`), which
/// speaks the subset of etcd's JSON gateway that ``EtcdCoordinator`` uses — so one client talks
/// to both backends.
public actor EmbeddedCoordinator: Coordinator {
    private struct Watcher {
        var prefix: String
        var continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    }

    private var store: KeyValueStore
    private let journal: StoreJournal?
    /// What one change may add; checked before it is journaled.
    public nonisolated let limits: Limits
    private let clock: any ZonalClock
    private var watchers: [UUID: Watcher] = [:]
    private var expiryTimer: Task<Void, Never>?
    /// What `status()` reports as the endpoint.
    public nonisolated let endpoint: String

    /// A coordinator whose state lives in `directory` (created when missing), or only in
    /// memory when `directory` is nil. Throws ``CoordinatorError/corruptState(path:reason:)``
    /// for damaged state, which is never silently replaced by an empty store.
    /// `checkpointInterval`: journal entries after which a snapshot is written and the journal emptied.
    public init(
        directory: String?, clock: any ZonalClock = SystemClock(), endpoint: String = "embedded", checkpointInterval: Int = 10_000,
        limits: Limits = .init()
    ) throws(CoordinatorError) {
        try self.init(
            directory: directory, clock: clock, endpoint: endpoint, checkpointInterval: checkpointInterval, limits: limits, files: SystemJournalFiles())
    }

    /// The same, with the journal's file operations given: tests crash or fill the disk there.
    init(
        directory: String?, clock: any ZonalClock, endpoint: String, checkpointInterval: Int, checkpointBytes: Int = 64 << 20,
        limits: Limits = .init(), files: any JournalFiles
    ) throws(CoordinatorError) {
        self.clock = clock
        self.endpoint = endpoint
        self.limits = limits
        if let directory {
            (journal, store) = try StoreJournal.open(directory: directory, now: clock.now, files: files)
            journal?.checkpointInterval = checkpointInterval
            journal?.checkpointBytes = checkpointBytes
        } else {
            journal = nil
            store = KeyValueStore()
        }
        // Leases restored from disk must expire even if nobody calls in.
        Task { await self.expiryTimerFired() }
    }

    deinit {
        expiryTimer?.cancel()
    }

    // MARK: Coordinator

    public func get(_ key: String) -> KeyValue? {
        expireDueLeases()
        return store.get(key)
    }

    public func range(prefix: String) -> RangeResult {
        expireDueLeases()
        return store.range(prefix: prefix)
    }

    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: LeaseID?) throws(CoordinatorError) -> Int64 {
        try commit(.put(key: key, value: value, lease: lease))
        return store.revision
    }

    @discardableResult
    public func delete(_ key: String) throws(CoordinatorError) -> Bool {
        guard store.get(key) != nil else { return false }
        try commit(.delete(key: key))
        return true
    }

    public func transaction(_ transaction: Transaction) throws(CoordinatorError) -> TransactionResult {
        var preview = store
        let (result, events) = try preview.apply(transaction)
        guard !events.isEmpty else { return result }  // nothing changed: nothing to journal
        try commit(.transaction(transaction))
        return result
    }

    /// etcd's own limit on a lease's TTL (`MaxLeaseTTL`, 9,000,000,000 s), which keeps every
    /// expiry instant inside 64-bit nanoseconds.
    public static let maximumLeaseTTL = Duration.seconds(9_000_000_000)

    public func grantLease(ttl: Duration) throws(CoordinatorError) -> Lease {
        guard ttl >= .seconds(1), ttl <= Self.maximumLeaseTTL else {
            throw .rejected("a lease TTL must be between 1 and \(Self.maximumLeaseTTL.components.seconds) seconds, got \(ttl.components.seconds)")
        }
        try commit(.grantLease(ttl: ttl))
        let lease = Lease(id: LeaseID(rawValue: store.snapshot.lastLeaseID), ttl: ttl)
        scheduleExpiry()
        return lease
    }

    public func renewLease(_ id: LeaseID) throws(CoordinatorError) -> Duration {
        expireDueLeases()
        let ttl = try store.renewLease(id, now: clock.now)
        scheduleExpiry()
        return ttl
    }

    public func revokeLease(_ id: LeaseID) throws(CoordinatorError) {
        expireDueLeases()
        guard store.timeToLive(id, now: clock.now) != nil else { throw .leaseNotFound(id) }
        try commit(.revokeLease(id))
    }

    /// Which of `keys` and `leases` still exist: what the server's per-client quotas recheck.
    public func existing(keys: Set<String>, leases: Set<LeaseID>) -> (keys: Set<String>, leases: Set<LeaseID>) {
        expireDueLeases()
        return (keys.filter { store.get($0) != nil }, leases.filter { store.timeToLive($0, now: clock.now) != nil })
    }

    public func timeToLive(_ id: LeaseID) -> Duration? {
        expireDueLeases()
        return store.timeToLive(id, now: clock.now)
    }

    public nonisolated func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error> {
        // Bounded: a watcher that stops reading is cut off (see `deliver`), not buffered forever.
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream(bufferingPolicy: .bufferingOldest(limits.watchBuffer))
        let id = UUID()
        continuation.onTermination = { _ in Task { await self.removeWatcher(id) } }
        Task { await self.addWatcher(id, prefix: prefix, from: revision, continuation: continuation) }
        return stream
    }

    public func compact(through revision: Int64) throws(CoordinatorError) {
        try commit(.compact(through: revision))
    }

    public func status() -> CoordinatorStatus {
        CoordinatorStatus(backend: "embedded", endpoint: endpoint, version: "zonal-embedded", leader: endpoint, revision: store.revision)
    }

    /// Everything the store holds, for tests that compare states.
    var snapshot: KeyValueStore.Snapshot { store.snapshot }

    /// The current revision, for tests and the server's response headers.
    public var revision: Int64 { store.revision }

    /// Ends every watch stream, as a shutdown or lost connection would; watchers resume by revision.
    public func disconnectWatchers() {
        for watcher in watchers.values {
            watcher.continuation.finish(throwing: CoordinatorError.unreachable(endpoints: [endpoint], reason: "watch disconnected"))
        }
        watchers.removeAll()
    }

    // MARK: Internals

    /// Journals an entry, then applies it and tells the watchers. Nothing changes when the
    /// journal cannot be written or the change would pass a limit.
    private func commit(_ entry: StoreJournal.Entry) throws(CoordinatorError) {
        var next = store
        let events = try StoreJournal.replay(entry, into: &next, now: clock.now)
        try limits.check(entry, from: store, to: next)
        try journal?.append(entry)
        store = next
        publish(events)
        journal?.checkpointIfDue(store)
    }

    private func publish(_ events: [WatchEvent]) {
        guard !events.isEmpty else { return }
        for (id, watcher) in watchers {
            for event in events where event.keyValue.key.hasPrefix(watcher.prefix) {
                guard deliver(event, to: watcher.continuation) else {
                    watchers[id] = nil
                    break
                }
            }
        }
    }

    /// Hands an event to a watcher; false when its buffer is full, in which case the watch ends
    /// with the reason: the watcher resumes from the last revision it read, as after a lost
    /// connection, and memory stays bounded whatever it does.
    private func deliver(_ event: WatchEvent, to continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) -> Bool {
        if case .dropped = continuation.yield(event) {
            continuation.finish(
                throwing: CoordinatorError.unreachable(
                    endpoints: [endpoint], reason: "the watcher fell \(limits.watchBuffer) events behind and was cut off; resume from the last revision read"))
            return false
        }
        return true
    }

    private func addWatcher(_ id: UUID, prefix: String, from revision: Int64, continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) {
        do {
            // History and registration in one actor turn: no event can slip between them.
            for event in try store.events(prefix: prefix, from: revision) {
                guard deliver(event, to: continuation) else { return }
            }
            watchers[id] = Watcher(prefix: prefix, continuation: continuation)
        } catch {
            continuation.finish(throwing: error)
        }
    }

    private func removeWatcher(_ id: UUID) {
        watchers[id] = nil
    }

    private func expireDueLeases() {
        for id in store.expiredLeases(now: clock.now) {
            do {
                try commit(.revokeLease(id))
            } catch {
                // The journal refused; the lease stays and is retried at the next expiry check.
                return
            }
        }
    }

    private func scheduleExpiry() {
        expiryTimer?.cancel()
        guard let next = store.nextLeaseExpiry else { return }
        let clock = self.clock
        expiryTimer = Task { [weak self] in
            guard (try? await clock.sleep(until: next)) != nil else { return }
            await self?.expiryTimerFired()
        }
    }

    private func expiryTimerFired() {
        expireDueLeases()
        scheduleExpiry()
    }
}

extension EmbeddedCoordinator {
    /// What the coordinator holds at most, so that a client with the token but bad intent (or a
    /// bug) cannot fill the machine's memory or disk through it.
    public struct Limits: Sendable, Hashable {
        /// Bytes of one key and its value together; etcd's default request limit. Default 1.5 MiB.
        public var maxKeyValueBytes = 1536 * 1024
        /// Keys held at once. Default 1,000,000.
        public var maxKeys = 1_000_000
        /// Leases granted and not yet expired or revoked. Default 100,000.
        public var maxLeases = 100_000
        /// Events one watcher may have unread before it is cut off. Default 10,000.
        public var watchBuffer = 10_000

        public init() {}

        /// Refuses a change that takes the store past a limit; one that shrinks it always passes.
        func check(_ entry: StoreJournal.Entry, from before: KeyValueStore, to after: KeyValueStore) throws(CoordinatorError) {
            let puts: [(key: String, value: [UInt8])] =
                switch entry {
                case .put(let key, let value, _): [(key, value)]
                case .transaction(let transaction):
                    (transaction.success + transaction.failure).compactMap {
                        if case .put(let key, let value, _) = $0 { (key, value) } else { nil }
                    }
                default: []
                }
            for put in puts where put.key.utf8.count + put.value.count > maxKeyValueBytes {
                throw .rejected(
                    "key \(put.key.prefix(64)) with its value is \(put.key.utf8.count + put.value.count) bytes, above the limit of \(maxKeyValueBytes)")
            }
            if after.keyCount > maxKeys && after.keyCount > before.keyCount {
                throw .rejected("the coordinator holds \(before.keyCount) keys, its limit is \(maxKeys)")
            }
            if after.leaseCount > maxLeases && after.leaseCount > before.leaseCount {
                throw .rejected("the coordinator holds \(before.leaseCount) leases, its limit is \(maxLeases)")
            }
        }
    }
}
