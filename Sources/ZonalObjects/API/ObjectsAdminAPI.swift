import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The admin port of a storage node or an S3 front end: `GET /health` (open, for balancers and
/// checkers) and `GET /metrics`.
public struct ObjectsAdminAPI: Sendable {
    public let name: String
    public let tokens: AdminTokenSource
    /// What `/health` reports; a throw is 503 with the reason.
    public let health: @Sendable () async throws -> [String: String]

    public init(name: String, tokens: AdminTokenSource, health: @escaping @Sendable () async throws -> [String: String]) {
        self.name = name
        self.tokens = tokens
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
        return APIServer.application(router: router, host: host, port: port, name: name, limits: limits, logger: logger)
    }
}
