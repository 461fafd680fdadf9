import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// A proxy's admin API: `GET /health` (200 while the proxy knows a master to send writes to,
/// 503 during a failover, with the master's name either way) and `GET /metrics`.
public struct CacheProxyAPI: Sendable {
    public let directory: MasterDirectory
    public let tokens: AdminTokenSource

    public init(directory: MasterDirectory, tokens: AdminTokenSource) {
        self.directory = directory
        self.tokens = tokens
    }

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: limits.metrics) { $0.method == .get && $0.uri.path == "/health" })
        router.addMetricsRoute()
        let directory = self.directory
        router.get("/health") { _, _ in
            let master = directory.view.master
            return Response.json(status: master == nil ? .serviceUnavailable : .ok, ["cache": directory.service, "master": master?.name ?? ""])
        }
        return APIServer.application(router: router, host: host, port: port, name: "zonal-cache-proxy", limits: limits, logger: logger)
    }
}
