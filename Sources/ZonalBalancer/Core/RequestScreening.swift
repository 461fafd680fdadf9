import NIOHTTP1
import ZonalCore

extension RequestLimits {
    /// The refusal for a request head, or nil when it may go on.
    public func screen(_ head: HTTPRequestHead) -> ProxyError? {
        var size = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        for (name, value) in head.headers { size += name.utf8.count + value.utf8.count + 4 }
        if size > maxHeaderBytes {
            return .headersTooLarge(size: size, limit: maxHeaderBytes)
        }
        let lengths = head.headers[canonicalForm: "content-length"]
        if Set(lengths).count > 1 || lengths.contains(where: { Int($0) == nil || Int($0)! < 0 }) {
            return .badRequest("invalid Content-Length")
        }
        if head.headers.contains(name: "transfer-encoding") && !lengths.isEmpty {
            return .badRequest("both Transfer-Encoding and Content-Length")
        }
        if maxBodyBytes > 0, let length = lengths.first.flatMap({ Int($0) }), length > maxBodyBytes {
            return .bodyTooLarge(limit: maxBodyBytes)
        }
        return nil
    }
}

/// Why the balancer answered a request itself, with the status and the short body it sends.
public enum ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    case badRequest(String)
    case headersTooLarge(size: Int, limit: Int)
    case bodyTooLarge(limit: Int)
    case requestTimeout
    case noServer(pool: String)
    case serverFailed(String)
    case serverTimeout

    public var status: HTTPResponseStatus {
        switch self {
        case .badRequest: .badRequest
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .requestTimeout: .requestTimeout
        case .noServer: .serviceUnavailable
        case .serverFailed: .badGateway
        case .serverTimeout: .gatewayTimeout
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let reason): "bad request: \(reason)"
        case .headersTooLarge(let size, let limit): "request headers of \(size) bytes exceed the limit of \(limit)"
        case .bodyTooLarge(let limit): "request body exceeds the limit of \(limit) bytes"
        case .requestTimeout: "request headers not received in time"
        case .noServer(let pool): "no healthy server in pool \(pool)"
        case .serverFailed(let reason): "server failed: \(reason)"
        case .serverTimeout: "server did not answer in time"
        }
    }

    /// The body sent to the client: the status and one line, nothing about the servers behind.
    public var body: String {
        switch self {
        case .badRequest: "400 Bad Request\n"
        case .headersTooLarge: "431 Request Header Fields Too Large\n"
        case .bodyTooLarge: "413 Payload Too Large\n"
        case .requestTimeout: "408 Request Timeout\n"
        case .noServer: "503 Service Unavailable: no server is available to handle this request\n"
        case .serverFailed: "502 Bad Gateway\n"
        case .serverTimeout: "504 Gateway Timeout\n"
        }
    }
}
