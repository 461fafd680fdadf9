import Foundation
import Logging
import Metrics
import Synchronization
import ZonalCoordination
import ZonalCore

/// Replicates one rule: reads every storage node's change feed from where the rule's cursor
/// stands, sends each version (or delete) the rule selects to its destination once, and moves
/// the cursor on when a batch is through. At least once: a version sent but not yet under the
/// saved cursor may be sent again, which the destination applies idempotently (the version id
/// is kept), and one written before this replicator started is looked up first. A destination
/// that is away is retried with backoff; writes to the source never wait for it.
final class RuleReplicator: Sendable {
    let rule: ReplicationRule
    let target: ReplicationTarget
    let objects: ReplicatedObjects
    let coordinator: any Coordinator
    let cursorKey: String
    let clock: any ZonalClock
    let logger: Logger
    /// Pause between reads of the feeds while nothing is new: the replication delay when idle.
    let pollInterval: Duration
    let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
    private let state: Mutex<ReplicationStatus.Rule>
    private let throughput = Mutex(ThroughputWindow())
    static let batch = 256

    init(
        rule: ReplicationRule, target: ReplicationTarget, objects: ReplicatedObjects, coordinator: any Coordinator, store: String,
        pollInterval: Duration, clock: any ZonalClock, logger: Logger
    ) {
        self.rule = rule
        self.target = target
        self.objects = objects
        self.coordinator = coordinator
        self.cursorKey = "/zonal/objects/\(store)/replication/cursors/\(rule.name)"
        self.pollInterval = pollInterval
        self.clock = clock
        var logger = logger
        logger[metadataKey: "rule"] = "\(rule.name)"
        self.logger = logger
        var status = ReplicationStatus.Rule(rule)
        status.nodes = objects.clients.count
        state = Mutex(status)
    }

    var status: ReplicationStatus.Rule {
        var status = state.withLock { $0 }
        status.bytesPerSecond = throughput.withLock { $0.rate(at: second) }
        return status
    }

    private var second: Int64 { clock.now.nanoseconds / 1_000_000_000 }

    /// Replicates until cancelled, with the backlog measured alongside.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.measure() }
            await self.replicate()
            group.cancelAll()
        }
        Self.gauges(rule.name).forEach { $0.record(0) }
    }

    private func replicate() async {
        var cursor = await loadCursor()
        var sent = RecentIDs(capacity: 100_000)
        let started = Date()
        var failures = 0
        while !Task.isCancelled {
            let pages = await readFeeds(after: cursor)
            guard !pages.isEmpty else {
                failures += 1
                note(error: "no storage node's change feed answered")
                guard (try? await clock.sleep(for: backoff.delay(afterFailures: failures))) != nil else { return }
                continue
            }
            let versions = Self.merged(pages.values.map(\.changes)).filter { !sent.contains($0.versionID) }
            let (done, through) = await send(versions, startedAt: started)
            for id in done { sent.insert(id) }
            guard through else {
                failures += 1
                guard (try? await clock.sleep(for: backoff.delay(afterFailures: failures))) != nil else { return }
                continue
            }
            failures = 0
            var moved = cursor
            for (node, page) in pages { moved.nodes[node] = page.through }
            if moved != cursor {
                cursor = moved
                await saveCursor(cursor)
            } else {
                guard (try? await clock.sleep(for: pollInterval)) != nil else { return }
            }
        }
    }

    /// Sends `versions`, the keys side by side (at most ``parallelKeys`` at once) and each key's
    /// versions in order, so a destination that keeps the last write of a key gets the newest
    /// last. Returns the ids sent or refused for good, and whether all were: a key whose
    /// destination failed stops there, and the batch is tried again after a pause.
    private func send(_ versions: [ObjectVersion], startedAt started: Date) async -> (done: [String], through: Bool) {
        var keys: [String] = []
        var byKey: [String: [ObjectVersion]] = [:]
        for version in versions {
            if byKey[version.key] == nil { keys.append(version.key) }
            byKey[version.key, default: []].append(version)
        }
        return await withTaskGroup(of: (done: [String], through: Bool).self) { group in
            var pending = keys.makeIterator()
            func startNext() -> Bool {
                guard let key = pending.next(), let chain = byKey[key] else { return false }
                group.addTask { await self.sendInOrder(chain, startedAt: started) }
                return true
            }
            for _ in 0..<Self.parallelKeys where !startNext() { break }
            var done: [String] = []
            var through = true
            for await result in group {
                done += result.done
                through = through && result.through
                _ = startNext()
            }
            return (done, through)
        }
    }

    /// At most this many keys are sent at once.
    static let parallelKeys = 8

    /// The versions of one key, oldest first, until one fails short of a refusal.
    private func sendInOrder(_ chain: [ObjectVersion], startedAt started: Date) async -> (done: [String], through: Bool) {
        var done: [String] = []
        for version in chain {
            do throws(ReplicationTarget.Failure) {
                try await applyMakingBucket(version, lookUpFirst: (VersionID.date(of: version.versionID) ?? .distantPast) < started)
            } catch .refused(let reason) {
                refuse(version, reason)
            } catch {
                note(error: error.description)
                return (done, false)
            }
            done.append(version.versionID)
        }
        return (done, true)
    }

    /// One page of every answering node's feed after the cursor, by node name.
    private func readFeeds(after cursor: ReplicationCursor) async -> [String: ChangePage] {
        let filter = rule.filter
        return await withTaskGroup(of: (String, ChangePage?).self) { group in
            for client in objects.clients.values {
                group.addTask {
                    let after = cursor.nodes[client.node.name] ?? 0
                    return (client.node.name, try? await client.changes(bucket: self.rule.bucket, after: after, filter: filter, limit: Self.batch))
                }
            }
            var pages: [String: ChangePage] = [:]
            for await (node, page) in group { pages[node] = page }
            return pages
        }
    }

    /// The versions of several feeds, each once, oldest first.
    static func merged(_ feeds: [[ChangePage.Change]]) -> [ObjectVersion] {
        var seen: [String: ObjectVersion] = [:]
        for feed in feeds {
            for change in feed {
                let version = change.version
                if let known = seen[version.versionID], known.isPurged == true || version.isPurged != true { continue }
                seen[version.versionID] = version
            }
        }
        return seen.values.sorted { ($0.versionID, $0.key) < ($1.versionID, $1.key) }
    }

    /// ``apply(_:lookUpFirst:)``; a destination bucket missing in a Zonal store is made first.
    private func applyMakingBucket(_ version: ObjectVersion, lookUpFirst: Bool) async throws(ReplicationTarget.Failure) {
        do {
            try await apply(version, lookUpFirst: lookUpFirst)
        } catch .missingBucket(let reason) where target.keepsVersionIDs {
            logger.notice("making the destination bucket", metadata: ["bucket": "\(target.bucket)", "answer": "\(reason)"])
            try await target.createBucket()
            try await apply(version, lookUpFirst: lookUpFirst)
        }
    }

    /// Sends `version` to the destination: its bytes, a delete marker or a purge.
    private func apply(_ version: ObjectVersion, lookUpFirst: Bool) async throws(ReplicationTarget.Failure) {
        if version.isPurged == true { return try await count(0) { () throws(ReplicationTarget.Failure) in try await target.purge(version) } }
        if lookUpFirst, try await target.has(version) { return }
        if version.isDeleteMarker { return try await count(0) { () throws(ReplicationTarget.Failure) in try await target.delete(version) } }
        let found: (version: ObjectVersion, holders: [StorageNodeClient])?
        do { found = try await objects.version(bucket: version.bucket, key: version.key, versionID: version.versionID) } catch {
            throw .transient("reading \(version.key) from this store: \(error.message)")
        }
        // Gone since it was listed: overwritten (its successor is further on in the feed) or
        // deleted for good.
        guard let (current, holders) = found else { return }
        try await count(current.size) { () throws(ReplicationTarget.Failure) in
            try await target.put(current, body: objects.bytes(of: current, range: nil, holders: holders))
        }
    }

    private func count(_ bytes: Int64, _ work: () async throws(ReplicationTarget.Failure) -> Void) async throws(ReplicationTarget.Failure) {
        try await work()
        let now = second
        throughput.withLock { $0.add(bytes, at: now) }
        state.withLock {
            $0.replicatedObjects += 1
            $0.replicatedBytes += bytes
            $0.lastReplicated = Date()
        }
        Counter(label: "zonal_objects_replication_objects_total", dimensions: [("rule", rule.name)]).increment()
        Counter(label: "zonal_objects_replication_bytes_total", dimensions: [("rule", rule.name)]).increment(by: Int64(bytes))
    }

    private func note(error: String) {
        logger.warning("replication is held up", metadata: ["error": "\(error)"])
        state.withLock {
            $0.lastError = error
            $0.lastErrorAt = Date()
        }
        Counter(label: "zonal_objects_replication_errors_total", dimensions: [("rule", rule.name)]).increment()
    }

    private func refuse(_ version: ObjectVersion, _ reason: String) {
        logger.error(
            "the destination refused a version; it is skipped", metadata: ["key": "\(version.key)", "version": "\(version.versionID)", "error": "\(reason)"])
        state.withLock {
            $0.refused = Array(($0.refused + [.init(key: version.key, versionID: version.versionID, error: reason, at: Date())]).suffix(20))
            $0.refusedTotal += 1
        }
        Counter(label: "zonal_objects_replication_refused_total", dimensions: [("rule", rule.name)]).increment()
    }

    /// Every two seconds: the backlog behind the saved cursor on every node, into the status and
    /// the gauges.
    private func measure() async {
        while !Task.isCancelled {
            let cursor = (try? await storedCursor()) ?? ReplicationCursor(generation: rule.generation)
            let filter = rule.filter
            let backlogs = await withTaskGroup(of: Backlog?.self) { group in
                for client in objects.clients.values {
                    group.addTask {
                        try? await client.backlog(bucket: self.rule.bucket, after: cursor.nodes[client.node.name] ?? 0, filter: filter)
                    }
                }
                var answers: [Backlog] = []
                for await answer in group { if let answer { answers.append(answer) } }
                return answers
            }
            let combined = Backlog.combined(backlogs, replicas: objects.placement.replicas)
            let oldest = combined.oldestVersionID.flatMap(VersionID.date(of:)).map { max(0, Date().timeIntervalSince($0)) }
            state.withLock {
                $0.nodesAnswering = backlogs.count
                guard !backlogs.isEmpty else { return }
                $0.pendingObjects = combined.objects
                $0.pendingBytes = combined.bytes
                $0.oldestPendingSeconds = oldest
            }
            let gauges = Self.gauges(rule.name)
            if !backlogs.isEmpty {
                gauges[0].record(combined.objects)
                gauges[1].record(combined.bytes)
                gauges[2].record(oldest ?? 0)
            }
            guard (try? await clock.sleep(for: .seconds(2))) != nil else { return }
        }
    }

    /// Pending objects, pending bytes and the oldest pending version's age in seconds.
    private static func gauges(_ rule: String) -> [Gauge] {
        ["zonal_objects_replication_pending_objects", "zonal_objects_replication_pending_bytes", "zonal_objects_replication_oldest_pending_seconds"].map {
            Gauge(label: $0, dimensions: [("rule", rule)])
        }
    }

    private func storedCursor() async throws -> ReplicationCursor? {
        guard let value = try await coordinator.get(cursorKey), let cursor = try? JSONDecoder.zonal().decode(ReplicationCursor.self, from: Data(value.value)),
            cursor.generation == rule.generation, cursor.nodes.values.allSatisfy({ $0 >= 0 })
        else { return nil }
        return cursor
    }

    /// The saved cursor of this generation of the rule; a fresh one (every feed from its start)
    /// when there is none, or it is of another generation, or it cannot be read.
    private func loadCursor() async -> ReplicationCursor {
        var failures = 0
        while !Task.isCancelled {
            do { return try await storedCursor() ?? ReplicationCursor(generation: rule.generation) } catch {
                failures += 1
                note(error: "cannot read the rule's cursor from the coordinator: \(error)")
                try? await clock.sleep(for: backoff.delay(afterFailures: failures))
            }
        }
        return ReplicationCursor(generation: rule.generation)
    }

    private func saveCursor(_ cursor: ReplicationCursor) async {
        guard let value = try? JSONEncoder.zonal().encode(cursor) else { return }
        do { _ = try await coordinator.put(cursorKey, value: Array(value), lease: nil) } catch {
            // The next batch saves it again; until then a takeover resends a little.
            note(error: "cannot save the rule's cursor in the coordinator: \(error)")
        }
    }
}
