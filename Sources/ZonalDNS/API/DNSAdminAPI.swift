import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The admin API of a DNS server instance: `GET /status` (zones with serials, every
/// health-checked name with its pools, each address's health, the answer now and why, recent
/// answer changes) and `POST /reload`; `/metrics` and `/health`. Everything but `/health` and
/// `/metrics` wants the admin token.
public struct DNSAdminAPI: Sendable {
    public let server: NameServer
    public let tokens: AdminTokenSource

    public init(server: NameServer, tokens: AdminTokenSource) {
        self.server = server
        self.tokens = tokens
    }

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        APIServer.application(router: router(metrics: limits.metrics), host: host, port: port, name: "zonal-dns-admin", limits: limits, logger: logger)
    }

    func router(metrics: MetricsAccess = .loopback) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: metrics))
        router.addAdminRoutes()
        let server = self.server
        router.get("/status") { _, _ in Response.json(server.status()) }
        router.post("/reload") { _, _ -> Response in
            do { return Response.json(["changed": try server.reload()]) } catch {
                return Response.json(status: .unprocessableContent, ["error": "reload failed, the running zones stay: \(error)"])
            }
        }
        return router
    }
}
