import Foundation
import Logging
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
    public let logger: Logger
    private let publications: AsyncStream<(client: String, server: String)>
    private let publisher: AsyncStream<(client: String, server: String)>.Continuation

    /// `prefix` is the pool's key prefix, such as `/zonal/quickstart/balancer/lb/web/affinity/`.
    public init(coordinator: any Coordinator, prefix: String, pool: BackendPool, timeout: Duration, logger: Logger) {
        self.coordinator = coordinator
        self.prefix = prefix
        self.pool = pool
        self.timeout = timeout
        self.logger = logger
        // Bounded: under a storm of new clients the newest placements are the ones worth sharing.
        (publications, publisher) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Queues a placement this instance made for publication.
    public func publish(client: String, server: String) {
        publisher.yield((client, server))
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

    private func publishLoop() async {
        for await (client, server) in publications {
            let entry = Entry(server: server, at: Int(Date().timeIntervalSince1970))
            guard let value = try? JSONEncoder().encode(entry) else { continue }
            do {
                _ = try await coordinator.put(prefix + client, value: Array(value), lease: nil)
            } catch {
                logger.warning("could not share a persistence entry", metadata: ["pool": "\(pool.name)", "error": "\(error)"])
            }
        }
    }

    private func followLoop() async {
        while !Task.isCancelled {
            do {
                let current = try await coordinator.range(prefix: prefix)
                for keyValue in current.keyValues { adopt(keyValue) }
                for try await event in coordinator.resumingWatch(prefix: prefix, fromRevision: current.revision + 1) {
                    switch event.kind {
                    case .put: adopt(event.keyValue)
                    case .delete: pool.forgetAffinity(client: String(event.keyValue.key.dropFirst(prefix.count)))
                    }
                }
            } catch {
                logger.warning("persistence sharing lost the coordinator; retrying", metadata: ["pool": "\(pool.name)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func adopt(_ keyValue: KeyValue) {
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(keyValue.value)),
              Int(Date().timeIntervalSince1970) - entry.at < Int(timeout.components.seconds) else { return }
        pool.importAffinity(client: String(keyValue.key.dropFirst(prefix.count)), server: entry.server)
    }

    /// Deletes entries unused for longer than the timeout, unless they changed meanwhile.
    private func sweepLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: max(timeout / 4, .seconds(1)))
            guard let current = try? await coordinator.range(prefix: prefix) else { continue }
            let now = Int(Date().timeIntervalSince1970)
            for keyValue in current.keyValues {
                guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(keyValue.value)),
                      now - entry.at >= Int(timeout.components.seconds) else { continue }
                _ = try? await coordinator.transaction(Transaction(
                    compares: [.unchanged(keyValue.key, since: keyValue.modRevision)], success: [.delete(key: keyValue.key)]
                ))
            }
        }
    }
}
