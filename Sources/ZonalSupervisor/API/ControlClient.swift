import AsyncHTTPClient
import Foundation
import NIOCore
import ZonalCore
import ZonalObservability

/// Talks to a running supervisor's control API; used by `zonal status`, `fail`, `recover`, `events`.
public struct ControlClient: Sendable {
    /// The API with the admin token; without it the supervisor answers 401.
    public let api: AdminAPIClient

    public init(host: String, port: Int, token: AdminToken?, timeout: Duration = .seconds(5)) {
        api = AdminAPIClient(host: host, port: port, token: token, timeout: timeout)
    }

    /// Whether a supervisor answers `GET /health` here (which needs no token).
    public func answers() async -> Bool {
        var request = HTTPClientRequest(url: api.baseURL + "/health")
        request.method = .GET
        return (try? await HTTPClient.zonal.execute(request, timeout: .nanoseconds(api.timeout.nanoseconds))) != nil
    }

    public func status() async throws(ControlClientError) -> StatusReport {
        try await send("GET", "/v1/status")
    }

    public func events() async throws(ControlClientError) -> [SupervisorEvent] {
        try await send("GET", "/v1/events")
    }

    public func fail(_ scope: Supervisor.Scope, _ name: String) async throws(ControlClientError) -> OperatorActionResult {
        try await send("POST", "/v1/fail/\(scope.rawValue)/\(Self.escape(name))")
    }

    public func recover(_ scope: Supervisor.Scope, _ name: String) async throws(ControlClientError) -> OperatorActionResult {
        try await send("POST", "/v1/recover/\(scope.rawValue)/\(Self.escape(name))")
    }

    private func send<Answer: Decodable>(_ method: String, _ path: String) async throws(ControlClientError) -> Answer {
        do { return try await api.send(method, path) } catch { throw ControlClientError(error: error) }
    }

    private static func escape(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
    }
}

/// A failed call of the control API, told in the supervisor's terms.
public struct ControlClientError: Error, CustomStringConvertible {
    public let error: AdminAPIError

    public var description: String {
        switch error {
        case .unreachable(let url, let reason): "no supervisor answers at \(url) (is `zonal up` running for this topology?): \(reason)"
        case .rejected(_, let message): message
        case .badAnswer(let reason): "the supervisor's answer could not be read: \(reason)"
        }
    }
}
