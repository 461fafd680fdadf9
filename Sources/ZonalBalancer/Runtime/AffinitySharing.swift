import Foundation
import Logging
import Synchronization
import ZonalCoordination
import ZonalCore

/// Shares source-address persistence between the balancer instances of one pool through the
/// coordinator: each instance publishes the clients it places, adopts those others place, and
/// lapsed entries are swept, so a client moved to another instance (its balancer died, DNS
/// changed) keeps its server.
///
/// Entries carry their last use and outlive the instance that wrote them. When the coordinator
/// cannot be reached the instance keeps balancing with its own table and catches up later.
public struct AffinitySharing: Sendable {
    struct Entry: Codable, Sendable {
        var server: String
        /// Unix seconds of the last use the writer saw.
        var at: Int
    }

    public let coordinator: any Coordinator
    public let prefix: String
    public let pool: BackendPool
    public let timeout: Duration
    public let clock: any ZonalClock
    public let logger: Logger
    private let pending = PendingPlacements()
    /// Wakes the publishing loop; holds at most one wake-up, the placements wait in ``pending``.
    private let wakeUps: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    /// `prefix` is the pool's key prefix, such as `/zonal/quickstart/balancer/lb/web/affinity/`.
    public init(coordinator: any Coordinator, prefix: String, pool: BackendPool, timeout: Duration, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.coordinator = coordinator
        self.prefix = prefix
        self.pool = pool
        self.timeout = timeout
        self.clock = clock
        self.logger = logger
        (wakeUps, waker) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a placement this instance made for publication.
    public func publish(client: String, server: String) {
        pending.add(client: client, server: server)
        waker.yield()
    }

    /// Publishes, follows and sweeps until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.publishLoop() }
            group.addTask { await self.followLoop() }
            group.addTask { await self.sweepLoop() }
            await group.waitForAll()
        }
    }

    /// Placements go out in batches, one transaction each (at most etcd's 128 operations), so a
    /// storm of new clients costs the coordinator one write per batch, not one per client.
    static let batchSize = 128

    private func publishLoop() async {
        for await _ in wakeUps {
            while true {
                let batch = pending.take(Self.batchSize)
                if batch.isEmpty { break }
                await share(batch)
            }
        }
    }

    private func share(_ placements: [String: String]) async {
        let now = Int(Date().timeIntervalSince1970)
        let puts = placements.compactMap { client, server -> Transaction.Operation? in
            guard let value = try? JSONEncoder().encode(Entry(server: server, at: now)) else { return nil }
            return .put(key: prefix + client, value: Array(value), lease: nil)
        }
        do {
            _ = try await coordinator.transaction(Transaction(compares: [], success: puts))
        } catch {
            logger.warning("could not share \(puts.count) persistence entries", metadata: ["pool": "\(pool.name)", "error": "\(error)"])
        }
    }

    private func followLoop() async {
        await PrefixFollower(coordinator: coordinator, prefix: prefix, clock: clock).run(
            onReading: { reading in
                for keyValue in reading.keyValues { adopt(keyValue) }
            },
            onEvent: { event in
                switch event.kind {
                case .put: adopt(event.keyValue)
                case .delete: pool.forgetAffinity(client: String(event.keyValue.key.dropFirst(prefix.count)))
                }
            },
            onError: { error, pause in
                logger.warning(
                    "persistence sharing lost the coordinator; again in \(pause.zonalDescription)",
                    metadata: ["pool": "\(pool.name)", "error": "\(error)"])
            })
    }

    private func adopt(_ keyValue: KeyValue) {
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(keyValue.value)), isLive(entry, now: Int(Date().timeIntervalSince1970)) else {
            return
        }
        pool.importAffinity(client: String(keyValue.key.dropFirst(prefix.count)), server: entry.server)
    }

    /// Whether an entry was used within the timeout. Its time comes from the coordinator, where
    /// anyone with the token could have written anything: one far in the past or future is lapsed.
    private func isLive(_ entry: Entry, now: Int) -> Bool {
        let (age, overflow) = now.subtractingReportingOverflow(entry.at)
        return !overflow && age >= -60 && age < Int(clamping: timeout.components.seconds)
    }

    /// Deletes entries unused for longer than the timeout, unless they changed meanwhile.
    private func sweepLoop() async {
        while !Task.isCancelled {
            guard (try? await clock.sleep(for: max(timeout / 4, .seconds(1)))) != nil else { return }
            guard let current = try? await coordinator.range(prefix: prefix) else { continue }
            let now = Int(Date().timeIntervalSince1970)
            for keyValue in current.keyValues {
                if let entry = try? JSONDecoder().decode(Entry.self, from: Data(keyValue.value)), isLive(entry, now: now) { continue }
                _ = try? await coordinator.transaction(
                    Transaction(
                        compares: [.unchanged(keyValue.key, since: keyValue.modRevision)], success: [.delete(key: keyValue.key)]
                    ))
            }
        }
    }
}

/// Placements waiting to be shared, newest server per client. Bounded: under a storm of new
/// clients some wait-listed placements are dropped (the client keeps its server on this
/// instance; it is shared when next used after a quarter of the timeout).
final class PendingPlacements: Sendable {
    static let limit = 10_000
    private let placements = Mutex<[String: String]>([:])

    func add(client: String, server: String) {
        placements.withLock { placements in
            if placements.count >= Self.limit, placements[client] == nil, let dropped = placements.keys.first { placements.removeValue(forKey: dropped) }
            placements[client] = server
        }
    }

    /// Up to `count` placements, removed from the queue.
    func take(_ count: Int) -> [String: String] {
        placements.withLock { placements in
            let batch = Dictionary(uniqueKeysWithValues: placements.prefix(count).map { ($0.key, $0.value) })
            for client in batch.keys { placements.removeValue(forKey: client) }
            return batch
        }
    }
}
