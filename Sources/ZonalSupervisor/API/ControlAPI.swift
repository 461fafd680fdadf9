import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The supervisor's HTTP control surface, on a loopback address only (validation enforces it):
/// `GET /v1/status`, `GET /v1/events`, `POST /v1/fail/{zone|node}/{name}`,
/// `POST /v1/recover/{zone|node}/{name}`, plus `/health` and `/metrics`. Everything but
/// `/health` and `/metrics` wants the admin token: any local user could otherwise fail a zone.
public struct ControlAPI: Sendable {
    public let supervisor: Supervisor
    public let tokens: AdminTokenSource

    public init(supervisor: Supervisor, tokens: AdminTokenSource) {
        self.supervisor = supervisor
        self.tokens = tokens
    }

    public func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let supervisor = self.supervisor
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: supervisor.topology.supervisor.api.metrics))
        router.addAdminRoutes()
        router.get("/v1/status") { _, _ in Response.json(await supervisor.status()) }
        router.get("/v1/events") { _, _ in Response.json(supervisor.events.all) }
        router.post("/v1/fail/:scope/:name") { _, context in
            try await Self.operate(context) { scope, name throws(SupervisorError) in try await supervisor.fail(scope, named: name) }
        }
        router.post("/v1/recover/:scope/:name") { _, context in
            try await Self.operate(context) { scope, name throws(SupervisorError) in try await supervisor.recover(scope, named: name) }
        }
        return router
    }

    /// The control application, listening on the topology's control address.
    public func application(logger: Logger) -> some ApplicationProtocol {
        let settings = supervisor.topology.supervisor
        return APIServer.application(
            router: router(), host: settings.controlHost, port: settings.controlPort, name: "zonal-control", limits: settings.api, logger: logger)
    }

    private static func operate(
        _ context: APIRequestContext,
        _ action: (Supervisor.Scope, String) async throws(SupervisorError) -> OperatorActionResult
    ) async throws -> Response {
        let scopeText = try context.parameters.require("scope")
        let name = try context.parameters.require("name")
        guard let scope = Supervisor.Scope(rawValue: scopeText) else {
            return Response.json(status: .badRequest, ["error": "scope must be region, zone or node, got \(scopeText)"])
        }
        do {
            return Response.json(try await action(scope, name))
        } catch {
            return Response.json(status: .notFound, ["error": error.description])
        }
    }
}
