import Foundation
import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The admin API of a balancer instance: list pools with each server's health, weight and
/// load; add and remove servers; set weights (0 drains); reload; `/metrics` and `/health`.
/// Everything but `/health` and `/metrics` wants the admin token.
public struct BalancerAdminAPI: Sendable {
    public let balancer: Balancer
    public let tokens: AdminTokenSource

    public init(balancer: Balancer, tokens: AdminTokenSource) {
        self.balancer = balancer
        self.tokens = tokens
    }

    struct WeightChange: Decodable {
        var weight: Int
    }

    struct NewServer: Decodable {
        var name: String?
        var address: String
        var port: Int
        var zone: String
        var weight: Int?
    }

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        APIServer.application(router: router(metrics: limits.metrics), host: host, port: port, name: "zonal-balancer-admin", limits: limits, logger: logger)
    }

    func router(metrics: MetricsAccess = .loopback) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: metrics))
        router.addAdminRoutes()
        let balancer = self.balancer
        let api = router.group("/pools")
        api.get("/") { _, _ in Response.json(balancer.snapshots()) }
        api.get("/:pool") { _, context -> Response in
            let name = try context.parameters.require("pool")
            guard let pool = balancer.pools[name] else { return Self.refusal(.notFound("no pool named \(name)")) }
            return Response.json(pool.snapshot())
        }
        api.put("/:pool/servers/:server/weight") { request, context -> Response in
            let change: WeightChange
            do { change = try await Self.decode(request) } catch let error as BalancerAdminError { return Self.refusal(error) }
            return Self.perform { () throws(BalancerAdminError) in
                try balancer.setWeight(pool: try Self.parameter("pool", context), server: try Self.parameter("server", context), weight: change.weight)
            }
        }
        api.post("/:pool/servers") { request, context -> Response in
            let server: NewServer
            do { server = try await Self.decode(request) } catch let error as BalancerAdminError { return Self.refusal(error) }
            return Self.perform { () throws(BalancerAdminError) in
                try balancer.addServer(
                    pool: try Self.parameter("pool", context),
                    Backend(id: server.name, host: server.address, port: server.port, zone: server.zone, weight: server.weight ?? 1))
            }
        }
        api.delete("/:pool/servers/:server") { _, context -> Response in
            Self.perform { () throws(BalancerAdminError) in
                try balancer.removeServer(pool: try Self.parameter("pool", context), server: try Self.parameter("server", context))
            }
        }
        router.post("/reload") { _, _ -> Response in
            do { return Response.json(try await balancer.reload()) } catch {
                return Response.json(status: .unprocessableContent, ["error": "reload failed, the running configuration stays: \(error)"])
            }
        }
        return router
    }

    private static func parameter(_ name: String, _ context: APIRequestContext) throws(BalancerAdminError) -> String {
        guard let value = context.parameters.get(name) else { throw .invalid("missing \(name) in the path") }
        return value
    }

    private static func decode<T: Decodable>(_ request: Request) async throws(BalancerAdminError) -> T {
        do {
            let body = try await request.body.collect(upTo: 64 * 1024)
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch {
            throw .invalid("invalid JSON body: \(error)")
        }
    }

    private static func perform(_ operation: () throws(BalancerAdminError) -> Void) -> Response {
        do {
            try operation()
            return Response.json(["status": "ok"])
        } catch {
            return refusal(error)
        }
    }

    private static func refusal(_ error: BalancerAdminError) -> Response {
        let status: HTTPResponse.Status =
            switch error {
            case .notFound: .notFound
            case .invalid: .badRequest
            case .conflict: .conflict
            }
        return Response.json(status: status, ["error": error.description])
    }
}
