import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ZonalCore
import ZonalObservability

/// A layer-4 listener: each client connection is relayed, bytes both ways, to a server the
/// pool picks. A server that refuses or does not answer within the connect timeout is skipped
/// for another (up to the pool's `retries`), so a dead server costs the client nothing; it also
/// counts towards the server's ejection.
public struct TCPProxy: Service, BalancerListener {
    public var name: String
    public var host: String
    public var port: Int
    public let pool: BackendPool
    public var limits: ConnectionLimits
    public var logger: Logger
    /// Called once the listener is bound, with its address (port 0 picks a free port).
    public var onBound: @Sendable (SocketAddress) -> Void

    public init(
        name: String = "tcp", host: String, port: Int, pool: BackendPool, limits: ConnectionLimits = .init(), logger: Logger,
        onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.name = name
        self.limits = limits
        self.host = host
        self.port = port
        self.pool = pool
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        try await serveUntilShutdown()
    }

    func bind(tracker: ConnectionTracker) async throws -> any Channel {
        let pool = self.pool
        let logger = self.logger
        let metrics = ProxyMetrics(listener: name, pool: pool.name)
        let idleTimeout = TimeAmount.nanoseconds(limits.tcpIdleTimeout.nanoseconds)
        let bootstrap = ServerBootstrap.zonalListener(maxConnections: limits.maxConnections, tracker: tracker)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    // Every byte of the relay passes the client channel, one way or the other.
                    try client.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try client.pipeline.syncOperations.addHandler(GlueHandler())
                    Self.relay(client, pool: pool, metrics: metrics, logger: logger)
                }
            }
        return try await bootstrap.bindListener(host: host, port: port, logger: logger, describing: "TCP listener for pool \(pool.name)", onBound: onBound)
    }

    /// One warning per pool per 10 s when no server takes connections, however many arrive.
    private static let warnings = RateLimitedLog()

    /// Connects `client` to a server of the pool and glues the two, or closes it when no server can take it.
    static func relay(_ client: any Channel, pool: BackendPool, metrics: ProxyMetrics, logger: Logger) {
        let clientAddress = client.remoteAddress?.ipAddress ?? "unknown"
        metrics.clientConnected()
        client.closeFuture.whenComplete { _ in metrics.clientDisconnected() }
        connect(for: client, pool: pool, metrics: metrics, clientAddress: clientAddress, tried: []).whenComplete { result in
            switch result {
            case .success(let (server, backend)):
                pool.connectionOpened(to: backend.id)
                metrics.serverConnected(backend.id)
                server.closeFuture.whenComplete { _ in
                    pool.connectionClosed(to: backend.id)
                    metrics.serverDisconnected(backend.id)
                }
                // A client gone while its server was being connected takes the server with it.
                client.closeFuture.whenComplete { _ in server.close(promise: nil) }
                do {
                    let clientGlue = try client.pipeline.syncOperations.handler(type: GlueHandler.self)
                    let serverGlue = try server.pipeline.syncOperations.handler(type: GlueHandler.self)
                    clientGlue.pair(with: serverGlue)
                } catch {
                    client.close(promise: nil)
                    server.close(promise: nil)
                }
            case .failure(let error):
                Self.warnings.log(
                    logger, .warning, "no server for a connection", key: pool.name,
                    metadata: ["pool": "\(pool.name)", "client": "\(clientAddress)", "error": "\(error)"])
                client.close(promise: nil)
            }
        }
    }

    private static func connect(for client: any Channel, pool: BackendPool, metrics: ProxyMetrics, clientAddress: String, tried: Set<String>)
        -> EventLoopFuture<(any Channel, Backend)>
    {
        guard tried.count <= pool.requestPolicy.retries, let backend = pool.choose(client: clientAddress, excluding: tried) else {
            return client.eventLoop.makeFailedFuture(NoServerAvailable(pool: pool.name, tried: tried.sorted()))
        }
        return ClientBootstrap(group: client.eventLoop)
            .connectTimeout(.nanoseconds(pool.requestPolicy.connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { server in
                server.eventLoop.makeCompletedFuture { try server.pipeline.syncOperations.addHandler(GlueHandler()) }
            }
            .connect(host: backend.host, port: backend.port)
            .map { server in
                pool.recordSuccess(backend.id)
                return (server, backend)
            }
            .flatMapError { error in
                pool.recordFailure(backend.id, reason: "connect: \(error)")
                metrics.serverConnectFailed(backend.id)
                return connect(for: client, pool: pool, metrics: metrics, clientAddress: clientAddress, tried: tried.union([backend.id]))
            }
    }
}

/// Every server of a pool refused, or none was eligible.
public struct NoServerAvailable: Error, CustomStringConvertible {
    public var pool: String
    public var tried: [String]

    public var description: String {
        tried.isEmpty ? "pool \(pool) has no healthy server" : "pool \(pool): no server accepted the connection (tried \(tried.joined(separator: ", ")))"
    }
}
