import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import Synchronization
import ZonalCore

/// Process-wide logging and metrics set-up, done once at start by every `zonal` role.
public enum Observability {
    private static let bootstrapped = Mutex(false)

    /// The registry every metric of this process is recorded in; `/metrics` prints it.
    public static let registry = PrometheusCollectorRegistry()

    /// Sends logs to standard error with their metadata, and metrics to ``registry``.
    /// Later calls do nothing, so tests and commands may call it freely.
    public static func bootstrap(logLevel: Logger.Level = .info) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// The log level named by `ZONAL_LOG_LEVEL` (trace, debug, info, notice, warning, error), or `info`.
    public static var logLevelFromEnvironment: Logger.Level {
        ProcessInfo.processInfo.environment["ZONAL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    }
}

extension Router {
    /// Adds `GET /health` (200 with a JSON status, or 503 when `isHealthy` says no) and
    /// `GET /metrics` (Prometheus text format) — the admin surface every Zonal process has.
    public func addAdminRoutes(isHealthy: @escaping @Sendable () async -> Bool = { true }) {
        get("/health") { _, _ -> Response in
            let healthy = await isHealthy()
            return Response.json(status: healthy ? .ok : .serviceUnavailable, ["status": healthy ? "ok" : "unhealthy"])
        }
        addMetricsRoute()
    }

    /// Adds only `GET /metrics`, for routers whose `/health` has a meaning of its own.
    public func addMetricsRoute() {
        get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.registry.emitToBuffer())))
        }
    }
}

extension Response {
    /// A JSON response from any `Encodable` value, with sorted keys for stable output.
    public static func json(status: HTTPResponse.Status = .ok, _ value: some Encodable) -> Response {
        let data = (try? JSONEncoder.zonal(pretty: true).encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// How every Zonal HTTP API is served: Hummingbird's HTTP/1.1 server with the topology's
/// ``APILimits`` (a connection cap and an idle timeout), so each API gets them in one place.
public enum APIServer {
    public static func application(
        router: Router<APIRequestContext>, host: String, port: Int, name: String, limits: APILimits = .init(), logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(limits.idleTimeout.nanoseconds))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: name,
                availableConnectionsDelegate: .maximum(limits.maxConnections, logger: logger)),
            logger: logger)
    }
}
