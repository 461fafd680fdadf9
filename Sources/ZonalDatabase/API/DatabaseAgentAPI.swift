import Foundation
import Hummingbird
import Logging
import ZonalCore
import ZonalObservability

/// The agent's HTTP API, the way any balancer or health checker finds the primary and the
/// replicas (the same convention as Patroni's): `GET /primary` answers 200 only on the node
/// that runs as primary and holds the leader key; `GET /replica` only on a streaming standby,
/// within `?lag=BYTES` and `?lag_seconds=S` when given; `GET /health` while PostgreSQL runs;
/// `GET /status` the member, the leader and the last decision; `GET /metrics`. The health
/// endpoints (`/health`, `/primary`, `/replica`) are open to checkers, `/metrics` as the
/// topology's ``MetricsAccess`` says; `/status` wants the admin token.
public struct DatabaseAgentAPI: Sendable {
    public let agent: DatabaseAgent
    public let tokens: AdminTokenSource

    public init(agent: DatabaseAgent, tokens: AdminTokenSource) {
        self.agent = agent
        self.tokens = tokens
    }

    /// What health checkers poll, open without a token.
    static let openPaths: Set<String> = ["/health", "/primary", "/replica"]

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        APIServer.application(router: router(metrics: limits.metrics), host: host, port: port, name: "zonal-db-agent", limits: limits, logger: logger)
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
            let running = report.member.role == .primary || report.member.role == .standby
            return Response.json(status: running ? .ok : .serviceUnavailable, report)
        }
        router.get("/primary") { _, _ in
            let report = await agent.report()
            return Response.json(status: report.isWritablePrimary ? .ok : .serviceUnavailable, report)
        }
        router.get("/replica") { request, _ in
            let report = await agent.report()
            let maximumBytes = request.uri.queryParameters.get("lag").flatMap { UInt64($0) }
            let maximumSeconds = request.uri.queryParameters.get("lag_seconds").flatMap { Double($0) }
            return Response.json(status: report.isReplica(maximumLagBytes: maximumBytes, maximumLagSeconds: maximumSeconds) ? .ok : .serviceUnavailable, report)
        }
        return router
    }
}

/// What `GET /status` answers, and what `zonal db status` shows per node.
public struct AgentReport: Codable, Sendable, Hashable {
    public var member: MemberStatus
    public var leader: String?
    /// Bytes of WAL this node is behind the primary's last published position.
    public var lagBytes: UInt64?
    public var synchronous: SynchronousSet?
    public var decision: String?

    public var isWritablePrimary: Bool {
        member.role == .primary && leader == member.name
    }

    public func isReplica(maximumLagBytes: UInt64?, maximumLagSeconds: Double?) -> Bool {
        guard member.role == .standby, member.upstream != nil else { return false }
        if let maximumLagBytes, (lagBytes ?? .max) > maximumLagBytes { return false }
        // An idle primary sends nothing to replay, so time since the last replayed commit only counts while behind.
        if let maximumLagSeconds, (lagBytes ?? 1) > 0, let seconds = member.replayLagSeconds, seconds > maximumLagSeconds { return false }
        return true
    }
}

extension DatabaseAgent {
    public func report() -> AgentReport {
        let cluster = lastCluster
        var lag: UInt64?
        if let leaderPosition = cluster?.leaderPosition, let mine = status.replayed ?? status.position?.lsn {
            lag = leaderPosition.position.lsn.bytes(after: mine)
        }
        return AgentReport(member: status, leader: cluster?.leader, lagBytes: lag, synchronous: cluster?.synchronous, decision: lastDecision?.description)
    }
}
