import AsyncHTTPClient
import Foundation
import NIOCore
import ZonalCore

/// Calls one of Zonal's admin APIs (supervisor, DNS server, …): JSON answers, the admin
/// token on every request, the API's own `{"error": …}` text when it refuses.
public struct AdminAPIClient: Sendable {
    public var baseURL: String
    public var timeout: Duration
    /// Sent with every request; without it the API answers 401.
    public var token: AdminToken?

    public init(host: String, port: Int, token: AdminToken?, timeout: Duration = .seconds(5)) {
        baseURL = "http://\(IPAddressText.hostPort(host, port))"
        self.token = token
        self.timeout = timeout
    }

    public func send<Answer: Decodable>(_ method: String, _ path: String) async throws(AdminAPIError) -> Answer {
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
}

public enum AdminAPIError: Error, CustomStringConvertible {
    case unreachable(String, String)
    case rejected(status: Int, message: String)
    case badAnswer(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let error): "nothing answers at \(url): \(error)"
        case .rejected(_, let message): message
        case .badAnswer(let error): "the answer could not be read: \(error)"
        }
    }
}
