import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import ZonalCore

/// A layer-7 listener: HTTP/1.1 with keep-alive and pipelining towards clients, and HTTP/2
/// (ALPN `h2` over TLS, prior knowledge in cleartext) unless turned off; requests spread over
/// the pool's servers on pooled kept-alive HTTP/1.1 connections, bodies streamed both ways.
public struct HTTPProxy: Service, BalancerListener {
    public var name: String
    public var host: String
    public var port: Int
    public let pool: BackendPool
    public var settings: HTTPSpec
    /// Client connections served at once; more wait to be accepted.
    public var maxConnections: Int
    /// Whether clients may speak HTTP/2.
    public var http2: Bool
    /// Set for an HTTPS listener: TLS is terminated here with the source's current certificate.
    let tls: TLSContextSource?
    public var logger: Logger
    /// Called once the listener is bound, with its address (port 0 picks a free port).
    public var onBound: @Sendable (SocketAddress) -> Void

    public init(
        name: String, host: String, port: Int, pool: BackendPool, settings: HTTPSpec = .init(), maxConnections: Int = ConnectionLimits().maxConnections,
        http2: Bool = true, logger: Logger, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.init(
            name: name, host: host, port: port, pool: pool, settings: settings, maxConnections: maxConnections, http2: http2, tls: nil, logger: logger,
            onBound: onBound)
    }

    init(
        name: String, host: String, port: Int, pool: BackendPool, settings: HTTPSpec, maxConnections: Int, http2: Bool, tls: TLSContextSource?,
        logger: Logger, onBound: @escaping @Sendable (SocketAddress) -> Void
    ) {
        self.tls = tls
        self.maxConnections = maxConnections
        self.http2 = http2
        self.name = name
        self.host = host
        self.port = port
        self.pool = pool
        self.settings = settings
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        try await serveUntilShutdown()
    }

    func bind(tracker: ConnectionTracker) async throws -> any Channel {
        var settings = self.settings
        if tls != nil { settings.scheme = "https" }
        let tls = self.tls
        let http2 = self.http2
        let metrics = ProxyMetrics(listener: name, pool: pool.name)
        let environment = ClientConnectionHandler.Environment(
            pool: pool, settings: settings, caches: ServerConnectionCaches(), metrics: metrics, logger: logger)
        let bootstrap = ServerBootstrap.zonalListener(maxConnections: maxConnections, tracker: tracker)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    metrics.clientConnected()
                    client.closeFuture.whenComplete { _ in metrics.clientDisconnected() }
                    if let tls { try client.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context(http2: http2))) }
                    try Self.configureClient(client, environment: environment, http2: http2)
                }
            }
        return try await bootstrap.bindListener(
            host: host, port: port, logger: logger, describing: "\(tls == nil ? "HTTP" : "HTTPS") listener \(name) for pool \(pool.name)", onBound: onBound)
    }
}

extension HTTPProxy {
    /// The pipeline of one client connection: with `http2`, a detector that sets up HTTP/2 or
    /// HTTP/1.1 by what the client sends first; else HTTP/1.1 straight away.
    static func configureClient(_ client: any Channel, environment: ClientConnectionHandler.Environment, http2: Bool) throws {
        guard http2 else { return try configureHTTP1(client, environment: environment) }
        let detector = HTTPVersionDetector(
            headerTimeout: environment.settings.headerTimeout,
            configureHTTP1: { try configureHTTP1($0, environment: environment) },
            configureHTTP2: { try HTTP2Front.configure($0, environment: environment) })
        try client.pipeline.syncOperations.addHandler(detector)
    }

    /// HTTP/1.1: head timer on raw bytes, the codec, then the proxying handler.
    static func configureHTTP1(_ client: any Channel, environment: ClientConnectionHandler.Environment) throws {
        let timer = RequestHeadTimer(headerTimeout: environment.settings.headerTimeout, keepAliveTimeout: environment.settings.keepAliveTimeout)
        try client.pipeline.syncOperations.addHandler(timer)
        // An upgrade configuration without upgraders: nothing is upgraded here, but the request
        // decoder then keeps the bytes behind an `Upgrade` request for the relay (UpgradeTunnel)
        // instead of dropping them.
        // Pipelined requests are kept and served in order by ClientConnectionHandler itself.
        try client.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withServerUpgrade: (upgraders: [], completionHandler: { _ in }), withErrorHandling: false)
        try client.pipeline.syncOperations.addHandler(ClientConnectionHandler(environment: environment, headTimer: timer))
    }
}

extension ServerBootstrap {
    /// A listening bootstrap with the options every Zonal listener uses. Beyond
    /// `maxConnections` open client connections it stops accepting (they wait in the backlog)
    /// until one closes, so a flood of connections cannot exhaust descriptors or memory; every
    /// accepted connection is known to `tracker`.
    static func zonalListener(maxConnections: Int, tracker: ConnectionTracker) -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelInitializer { server in
                server.eventLoop.makeCompletedFuture {
                    try server.pipeline.syncOperations.addHandler(AvailableConnectionsChannelHandler(maxConnections: maxConnections))
                    try server.pipeline.syncOperations.addHandler(ConnectionTracker.Handler(tracker: tracker))
                }
            }
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
    }

    /// Binds and reports the address; the returned channel accepts until it is closed.
    func bindListener(host: String, port: Int, logger: Logger, describing: String, onBound: @Sendable (SocketAddress) -> Void) async throws
        -> any Channel
    {
        let server = try await bind(host: host, port: port).get()
        if let address = server.localAddress { onBound(address) }
        logger.info("\(describing) ready", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        return server
    }
}
