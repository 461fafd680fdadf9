import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import ZonalCore

/// A layer-7 listener: HTTP/1.1 with keep-alive and pipelining towards clients, requests spread
/// over the pool's servers on pooled kept-alive connections, bodies streamed both ways.
public struct HTTPProxy: Service {
    public var name: String
    public var host: String
    public var port: Int
    public let pool: BackendPool
    public var settings: HTTPSettings
    public var logger: Logger
    /// Called once the listener is bound, with its address (port 0 picks a free port).
    public var onBound: @Sendable (SocketAddress) -> Void

    public init(
        name: String, host: String, port: Int, pool: BackendPool, settings: HTTPSettings = .init(),
        logger: Logger, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.pool = pool
        self.settings = settings
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let environment = ClientConnectionHandler.Environment(
            pool: pool, settings: settings, caches: ServerConnectionCaches(),
            metrics: ProxyMetrics(listener: name, pool: pool.configuration.name), logger: logger
        )
        let settings = self.settings
        let bootstrap = ServerBootstrap.zonalListener()
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    let timer = RequestHeadTimer(headerTimeout: settings.headerTimeout, keepAliveTimeout: settings.keepAliveTimeout)
                    try client.pipeline.syncOperations.addHandler(timer)
                    try client.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: false)
                    try client.pipeline.syncOperations.addHandler(ClientConnectionHandler(environment: environment, headTimer: timer))
                }
            }
        try await bootstrap.serve(host: host, port: port, logger: logger, describing: "HTTP listener \(name) for pool \(pool.configuration.name)", onBound: onBound)
    }
}

extension ServerBootstrap {
    /// A listening bootstrap with the options every Zonal listener uses.
    static func zonalListener() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
    }

    /// Binds, reports the address, and accepts until graceful shutdown; established
    /// connections are left to finish.
    func serve(host: String, port: Int, logger: Logger, describing: String, onBound: @Sendable (SocketAddress) -> Void) async throws {
        let server = try await bind(host: host, port: port).get()
        if let address = server.localAddress { onBound(address) }
        logger.info("\(describing) ready", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        try? await gracefulShutdown()
        try await server.close()
    }
}
