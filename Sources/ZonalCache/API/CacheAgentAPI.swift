import Foundation
import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The agent's HTTP API, for health checkers and balancers: `GET /master` answers 200 only on
/// the node that runs as an unpaused master and holds the leader key; `GET /replica` only on a
/// replica linked to its master; `GET /health` while Redis runs; `GET /status` the member, the
/// leader and the last decision (wants the admin token); `GET /metrics`.
public struct CacheAgentAPI: Sendable {
    public let agent: CacheAgent
    public let tokens: AdminTokenSource

    public init(agent: CacheAgent, tokens: AdminTokenSource) {
        self.agent = agent
        self.tokens = tokens
    }

    /// What health checkers poll, open without a token.
    static let openPaths: Set<String> = ["/health", "/master", "/replica"]

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        APIServer.application(router: router(metrics: limits.metrics), host: host, port: port, name: "zonal-cache-agent", limits: limits, logger: logger)
    }

    func router(metrics: MetricsAccess = .loopback) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(
            middleware: AdminTokenMiddleware(tokens: tokens, metrics: metrics) { request in request.method == .get && Self.openPaths.contains(request.uri.path)
            })
        router.addMetricsRoute()
        let agent = self.agent
        router.get("/status") { _, _ in Response.json(await agent.report()) }
        router.get("/health") { _, _ in
            let report = await agent.report()
            return Response.json(status: report.member.role == .stopped ? .serviceUnavailable : .ok, report)
        }
        router.get("/master") { _, _ in
            let report = await agent.report()
            return Response.json(status: report.role == ReplicaRole.primary.rawValue ? .ok : .serviceUnavailable, report)
        }
        router.get("/replica") { _, _ in
            let report = await agent.report()
            return Response.json(status: report.role == ReplicaRole.replica.rawValue ? .ok : .serviceUnavailable, report)
        }
        return router
    }
}

/// What `GET /status` answers.
public struct CacheAgentReport: Codable, Sendable, Hashable {
    public var member: CacheMember
    public var leader: String?
    /// What the node takes traffic for, as published for proxies: `primary`, `replica` or nil.
    public var role: String?
    public var decision: String?
}

extension CacheAgent {
    public func report() -> CacheAgentReport {
        let leader = lastCluster?.leader
        let local: CacheHA.LocalServer =
            switch status.role {
            case .master: .master(offset: status.offset ?? 0, paused: !isWritableMaster)
            case .replica: .replica(offset: status.offset ?? 0, upstream: status.upstream, linkUp: status.linkUp)
            case .stopped: .stopped
            }
        return CacheAgentReport(
            member: status, leader: leader, role: Self.role(of: local, leader: leader, me: plan.me.name)?.rawValue, decision: lastDecision?.description)
    }
}
