import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ZonalCore
import ZonalObservability

/// Serves an ``S3Gateway`` over HTTP/1.1 with the API limits of the topology; while it runs it
/// follows the buckets and the access keys, aborts abandoned multipart uploads, and stands for
/// the store's replicator.
public struct S3Server: Service {
    public let gateway: S3Gateway
    public let plan: S3GatewayPlan
    public let replicator: BucketReplicator
    public let limits: APILimits
    public let logger: Logger

    public init(gateway: S3Gateway, plan: S3GatewayPlan, replicator: BucketReplicator, limits: APILimits, logger: Logger) {
        self.gateway = gateway
        self.plan = plan
        self.replicator = replicator
        self.limits = limits
        self.logger = logger
    }

    public func run() async throws {
        let application = Application(
            responder: gateway,
            server: .http1(
                configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()], idleTimeout: .nanoseconds(limits.idleTimeout.nanoseconds))),
            configuration: .init(
                address: .hostname(plan.host, port: plan.port), serverName: "zonal-s3",
                availableConnectionsDelegate: .maximum(limits.maxConnections, logger: logger)),
            logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await gateway.buckets.run() }
            group.addTask { await gateway.keys.run() }
            group.addTask { await replicator.run() }
            group.addTask {
                await UploadExpiry(
                    uploads: gateway.uploads, objects: gateway.objects, expiry: plan.spec.uploadExpiry, clock: SystemClock(), logger: logger
                ).run()
            }
            try await application.runService()
            group.cancelAll()
        }
    }
}
