import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import ZonalCore
import ZonalObservability

/// A storage node's scrubber and healer. Every `interval` it walks all the versions it holds,
/// at most `rate` bytes per second: it reads and verifies each replica's blocks (a damaged or
/// missing file is removed from the index and copied back from a node that has it whole), and
/// asks the other replica nodes of each key for their newest version, copying this node's to
/// those that lack it and theirs here when this node is behind. So a replica lost to a bad
/// disk, a deleted file or a node that was down during writes is healed even if no client
/// ever reads it again.
public final class ReplicaScrubber: Service, Sendable {
    /// Versions read from the index at a time.
    static let batchSize = 100

    let local: LocalReplicas
    let placement: ReplicaPlacement
    let peers: [String: StorageNodeClient]
    let rate: Int
    let interval: Duration
    let clock: any ZonalClock
    let logger: Logger
    private let metrics: ScrubMetrics
    private let state: Mutex<ScrubStatus>

    public init(plan: StorageNodePlan, store: ReplicaStore, tokens: AdminTokenSource, clock: any ZonalClock = SystemClock(), logger: Logger) {
        local = LocalReplicas(name: plan.node, store: store)
        placement = plan.placement
        peers = Dictionary(
            uniqueKeysWithValues: plan.storageNodes.filter { $0.name != plan.node }.map {
                ($0.name, StorageNodeClient(node: $0, tokens: tokens, timeout: .seconds(10)))
            })
        rate = plan.scrubRate
        interval = plan.scrubInterval
        self.clock = clock
        self.logger = logger
        metrics = ScrubMetrics(service: plan.service, node: plan.node)
        state = Mutex(ScrubStatus(node: plan.node, rate: plan.scrubRate, interval: plan.scrubInterval))
    }

    /// What the scrubber is doing and found, now.
    public var status: ScrubStatus { state.withLock { $0 } }

    public func run() async throws {
        guard rate > 0 else {
            logger.notice("the scrubber is off (scrub_rate 0)")
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let started = self.clock.now
                await self.pass()
                try? await self.clock.sleep(until: started + self.interval)
            }
        }
    }

    /// One walk over every version this node holds, in index order.
    func pass() async {
        state.withLock { $0.current = ScrubStatus.Pass(started: Date()) }
        var pacer = ScrubPacer(rate: rate, started: clock.now)
        var position: ReplicaIndex.Position?
        while !Task.isCancelled {
            let entries: [ReplicaIndex.Entry]
            do {
                entries = try await local.store.index.entries(after: position, limit: Self.batchSize)
            } catch {
                recordError("\(error)")
                logger.error("the scrubber cannot read the index; the pass ends", metadata: ["error": "\(error)"])
                break
            }
            for entry in entries where !Task.isCancelled { await check(entry, pacer: &pacer) }
            guard entries.count == Self.batchSize, let last = entries.last?.version else { break }
            position = ReplicaIndex.Position(bucket: last.bucket, key: Array(last.key.utf8), versionID: last.versionID)
        }
        let finished = state.withLock { status -> ScrubStatus.Pass? in
            guard var pass = status.current else { return nil }
            status.current = nil
            guard !Task.isCancelled else { return nil }
            pass.finished = Date()
            status.last = pass
            status.passes += 1
            return pass
        }
        if let found = finished?.findings {
            metrics.passes.increment()
            logger.notice(
                "scrub pass finished",
                metadata: [
                    "versions": "\(found.versions)", "bytes": "\(found.bytes)", "corrupt": "\(found.corrupt)", "missing": "\(found.missing)",
                    "healed": "\(found.healed)", "failed": "\(found.failed)", "unreachable": "\(found.unreachable)",
                ])
        }
    }

    /// Verifies this node's replica of `entry`, then compares it with the other replica nodes'.
    private func check(_ entry: ReplicaIndex.Entry, pacer: inout ScrubPacer) async {
        let version = entry.version
        var intact = true
        if entry.file != nil {
            do {
                for try await buffer in try await local.bytes(of: version, deadline: .seconds(3600)) {
                    record { $0.bytes += Int64(buffer.readableBytes) }
                    metrics.bytes.increment(by: buffer.readableBytes)
                    try? await clock.sleep(until: pacer.spend(Int64(buffer.readableBytes)))
                }
            } catch {
                // Superseded or removed since the walk read the index: nothing to check.
                if case ObjectsError.notFound = error { return }
                // The store removed the damaged replica from its index as it found it.
                intact = false
                metrics.corrupt.increment()
                record { $0.corrupt += 1 }
            }
        }
        try? await clock.sleep(until: pacer.spend(ScrubPacer.versionCost))
        record { $0.versions += 1 }

        // Each other replica node has this version, a purge record of it, a newer null version
        // that replaced it (for a null version), or none of these: then it lacks it.
        var holders: [StorageNodeClient] = []
        var lacking: [StorageNodeClient] = []
        var newer: (version: ObjectVersion, holder: StorageNodeClient)?
        for node in placement.replicaNodes(bucket: version.bucket, key: version.key) {
            guard let peer = peers[node.name] else { continue }
            do throws(ObjectsError) {
                let same = try await peer.version(bucket: version.bucket, key: version.key, versionID: version.versionID)
                if let same, same.isPurged == true {
                    await purgeHere(same)
                    return
                }
                if same != nil {
                    holders.append(peer)
                    continue
                }
                if version.versioned != true, let null = try await peer.version(bucket: version.bucket, key: version.key, versionID: VersionID.null),
                    null.isNewer(than: version)
                {
                    if newer.map({ null.isNewer(than: $0.version) }) ?? true { newer = (null, peer) }
                    continue
                }
                lacking.append(peer)
            } catch {
                record { $0.unreachable += 1 }
                recordError("\(error)")
            }
        }
        if let newer {
            // This node is behind: the newer null version replaces its copy once copied here.
            record { $0.missing += 1 }
            await heal(newer.version, from: [newer.holder], to: local, pacer: &pacer)
            return
        }
        if !intact {
            await heal(version, from: holders, to: local, pacer: &pacer)
            return
        }
        guard !lacking.isEmpty else { return }
        if ObjectVersion.isUploadsNamespace(version.bucket) && holders.isEmpty {
            record { $0.orphanParts += 1 }
            return
        }
        for peer in lacking {
            record { $0.missing += 1 }
            await heal(version, from: [local], to: peer, pacer: &pacer)
        }
    }

    /// Applies here a purge another node has: the version was deleted for good while this node
    /// did not hear of it.
    private func purgeHere(_ purge: ObjectVersion) async {
        do throws(ObjectsError) {
            try await local.commit(upload: nil, version: purge)
            record { $0.healed += 1 }
            logger.notice(
                "a version deleted for good elsewhere was removed here",
                metadata: ["bucket": "\(purge.bucket)", "key": "\(purge.key)", "version": "\(purge.versionID)"])
        } catch {
            record { $0.failed += 1 }
            recordError("\(error)")
        }
    }

    /// Copies `version` to `target` from the first of `sources` that has it whole.
    private func heal(_ version: ObjectVersion, from sources: [any ReplicaHolder], to target: some ReplicaHolder, pacer: inout ScrubPacer) async {
        let deadline = Duration.seconds(10) + .seconds(version.size / (4 << 20))
        var lastError = "no other node has this version"
        for source in sources {
            do throws(ObjectsError) {
                guard try await source.copy(bucket: version.bucket, key: version.key, versionID: version.versionID, to: target, deadline: deadline) else {
                    continue
                }
                try? await clock.sleep(until: pacer.spend(version.size))
                metrics.healed.increment()
                record { $0.healed += 1 }
                logger.notice(
                    "replica healed by the scrubber",
                    metadata: [
                        "bucket": "\(version.bucket)", "key": "\(version.key)", "version": "\(version.versionID)", "from": "\(source.name)",
                        "to": "\(target.name)",
                    ])
                return
            } catch {
                lastError = "\(error)"
            }
        }
        metrics.failed.increment()
        record { $0.failed += 1 }
        recordError(lastError)
        logger.warning(
            "the scrubber could not heal a replica",
            metadata: [
                "bucket": "\(version.bucket)", "key": "\(version.key)", "version": "\(version.versionID)", "to": "\(target.name)", "error": "\(lastError)",
            ])
    }

    /// Counts a finding in the pass under way and in the totals.
    private func record(_ change: (inout ScrubStatus.Findings) -> Void) {
        state.withLock { status in
            change(&status.total)
            guard status.current != nil else { return }
            change(&status.current!.findings)
        }
    }

    private func recordError(_ error: String) {
        state.withLock { $0.current?.lastError = error }
    }
}

/// The scrubber's figures for Prometheus, per node.
struct ScrubMetrics: Sendable {
    let bytes: Counter
    let corrupt: Counter
    let healed: Counter
    let failed: Counter
    let passes: Counter

    init(service: String, node: String) {
        let dimensions = [("service", service), ("node", node)]
        bytes = Counter(label: "zonal_objects_scrub_bytes_total", dimensions: dimensions)
        corrupt = Counter(label: "zonal_objects_scrub_corrupt_total", dimensions: dimensions)
        healed = Counter(label: "zonal_objects_scrub_healed_total", dimensions: dimensions)
        failed = Counter(label: "zonal_objects_scrub_failed_total", dimensions: dimensions)
        passes = Counter(label: "zonal_objects_scrub_passes_total", dimensions: dimensions)
    }
}
