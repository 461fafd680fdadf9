import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ZonalCoordination
import ZonalCore

/// The RESP proxy clients connect to instead of a Redis server: every command goes to the
/// current master of the cache service, which ``MasterDirectory`` learns from the coordinator
/// the moment it changes. Each client connection has its own server connection, so
/// pipelining, transactions, `WATCH`, blocking commands and pub/sub keep their meaning; after a
/// failover a stateless client is moved to the new master on its next command, and a client
/// with server-side state is disconnected (see ``ProxyConnection``).
public struct CacheProxy: Service {
    public let plan: CacheProxyPlan
    public let directory: MasterDirectory
    let password: CachePassword
    let logger: Logger

    public init(plan: CacheProxyPlan, coordinator: any Coordinator, logger: Logger) throws {
        self.plan = plan
        // The first of the service's processes to start creates the password; a proxy may be first.
        self.password = try CachePassword.loadOrCreate(file: plan.passwordFile)
        self.directory = MasterDirectory(service: plan.spec.cache, endpoints: plan.cacheNodes, coordinator: coordinator, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        let following = Task { await directory.run() }
        defer { following.cancel() }
        let settings = ProxyConnection.Settings(
            cache: plan.spec.cache, password: password.secret, waitForMaster: TimeAmount(plan.spec.waitForMaster),
            limits: .client(maxBulkLength: plan.spec.maxBulkLength), directory: directory, logger: logger, metrics: ProxyMetrics(proxy: plan.service))
        let idle = plan.spec.idleTimeout > .zero ? TimeAmount(plan.spec.idleTimeout) : nil
        let maxClients = plan.spec.maxClients
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AvailableConnectionsChannelHandler(maxConnections: maxClients))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let idle { try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle)) }
                    try channel.pipeline.syncOperations.addHandler(ProxyConnection(settings: settings))
                }
            }
            .bind(host: plan.host, port: plan.port).get()
        logger.info("RESP proxy ready", metadata: ["address": "\(plan.address)", "cache": "\(plan.spec.cache)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}
