import NIOCore
import Synchronization

/// Idle kept-alive server connections of one event loop, by server: a client request on that
/// loop takes one instead of connecting, so a busy balancer talks to its servers over a few
/// long-lived connections (HAProxy's `http-reuse`).
///
/// Only its own event loop touches it, so it needs no lock.
final class ServerConnectionCache {
    /// Idle connections kept per server. Default 64.
    let maxIdlePerServer: Int
    /// Idle connections older than this are closed rather than reused: servers close idle
    /// connections on their own schedule, and a request sent as they do may be lost.
    let maxIdleTime: TimeAmount
    private var idle: [String: [ServerConnection]] = [:]

    init(maxIdlePerServer: Int = 64, maxIdleTime: TimeAmount = .seconds(15)) {
        self.maxIdlePerServer = maxIdlePerServer
        self.maxIdleTime = maxIdleTime
    }

    /// An idle connection to `backend`, newest first. A request that must not be sent twice
    /// only gets a connection used within the last second, which the server is unlikely to be
    /// closing just now.
    func take(_ backend: String, idempotent: Bool) -> ServerConnection? {
        let now = NIODeadline.now()
        while let connection = idle[backend]?.last {
            let age = now - connection.idleSince
            guard connection.isUsable, age < maxIdleTime else {
                idle[backend]?.removeLast()
                connection.close()
                continue
            }
            guard idempotent || age < .seconds(1) else { return nil }
            idle[backend]?.removeLast()
            return connection
        }
        return nil
    }

    /// Keeps `connection` for the next request to its server.
    func put(_ connection: ServerConnection) {
        guard connection.isUsable else {
            connection.close()
            return
        }
        connection.idleSince = .now()
        var connections = idle[connection.backend.id, default: []]
        if connections.count >= maxIdlePerServer {
            connections.removeFirst().close()
        }
        connections.append(connection)
        idle[connection.backend.id] = connections
        guard !connection.isWatchedByCache else { return }
        connection.isWatchedByCache = true
        // A server that closes the connection while it sits here leaves the cache at once.
        connection.channel.closeFuture.assumeIsolatedUnsafeUnchecked().whenComplete { [weak self, weak connection] _ in
            if let connection { self?.remove(connection) }
        }
    }

    private func remove(_ connection: ServerConnection) {
        idle[connection.backend.id]?.removeAll { $0 === connection }
    }
}

/// One ``ServerConnectionCache`` per event loop.
final class ServerConnectionCaches: Sendable {
    private let caches = Mutex<[ObjectIdentifier: NIOLoopBound<ServerConnectionCache>]>([:])

    init() {}

    /// The cache of the event loop the caller runs on.
    func cache(for eventLoop: any EventLoop) -> ServerConnectionCache {
        eventLoop.preconditionInEventLoop()
        let key = ObjectIdentifier(eventLoop)
        return caches.withLock { caches in
            if let existing = caches[key] { return existing.value }
            let cache = ServerConnectionCache()
            caches[key] = NIOLoopBound(cache, eventLoop: eventLoop)
            return cache
        }
    }
}
