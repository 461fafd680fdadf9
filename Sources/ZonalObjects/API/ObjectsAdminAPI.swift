import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The admin port of a storage node or an S3 front end: `GET /health` (open, for balancers and
/// checkers), `GET /metrics`, and on a storage node `GET /scrub` (its scrubber's status).
public struct ObjectsAdminAPI: Sendable {
    public let name: String
    public let tokens: AdminTokenSource
    /// What `/health` reports; a throw is 503 with the reason.
    public let health: @Sendable () async throws -> [String: String]
    /// A storage node's scrubber; nil on a front end.
    public let scrubber: ReplicaScrubber?
    /// A front end's part in replication; nil on a storage node.
    public let replicator: BucketReplicator?

    public init(
        name: String, tokens: AdminTokenSource, scrubber: ReplicaScrubber? = nil, replicator: BucketReplicator? = nil,
        health: @escaping @Sendable () async throws -> [String: String]
    ) {
        self.name = name
        self.tokens = tokens
        self.scrubber = scrubber
        self.replicator = replicator
        self.health = health
    }

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: limits.metrics))
        router.addMetricsRoute()
        let health = self.health
        router.get("/health") { _, _ in
            do { return Response.json(try await health()) } catch { return Response.json(status: .serviceUnavailable, ["error": "\(error)"]) }
        }
        if let scrubber {
            router.get("/scrub") { _, _ in Response.json(scrubber.status) }
        }
        if let replicator {
            router.get("/replication") { _, _ in Response.json(replicator.status) }
        }
        return APIServer.application(router: router, host: host, port: port, name: name, limits: limits, logger: logger)
    }
}
