import AsyncHTTPClient
import Foundation
import NIOCore
import ZonalCore
import ZonalObservability

/// Talks to a running supervisor's control API; used by `zonal status`, `fail`, `recover`, `events`.
public struct ControlClient: Sendable {
    public var baseURL: String
    public var timeout: Duration
    /// Sent with every request; without it the supervisor answers 401.
    public var token: AdminToken?

    public init(host: String, port: Int, token: AdminToken?, timeout: Duration = .seconds(5)) {
        self.baseURL = "http://\(IPAddressText.hostPort(host, port))"
        self.token = token
        self.timeout = timeout
    }

    /// Whether a supervisor answers `GET /health` here (which needs no token).
    public func answers() async -> Bool {
        var request = HTTPClientRequest(url: baseURL + "/health")
        request.method = .GET
        return (try? await HTTPClient.zonal.execute(request, timeout: .nanoseconds(timeout.nanoseconds))) != nil
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
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: token.authorizationHeader) }
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await HTTPClient.zonal.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        } catch {
            throw .unreachable(baseURL, "\(error)")
        }
        let data = Data(buffer: body)
        guard (200..<300).contains(status) else {
            let message = (try? JSONDecoder().decode([String: String].self, from: data))?["error"] ?? String(decoding: data, as: UTF8.self)
            throw .rejected(status: status, message: message)
        }
        do {
            return try JSONDecoder.zonal().decode(Answer.self, from: data)
        } catch {
            throw .badAnswer("\(error)")
        }
    }

    private static func escape(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
    }
}

public enum ControlClientError: Error, CustomStringConvertible {
    case unreachable(String, String)
    case rejected(status: Int, message: String)
    case badAnswer(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let error): "no supervisor answers at \(url) (is `zonal up` running for this topology?): \(error)"
        case .rejected(_, let message): message
        case .badAnswer(let error): "the supervisor's answer could not be read: \(error)"
        }
    }
}
