import AsyncHTTPClient
import NIOCore
import ZonalCore
import ZonalObservability

/// Healthy when an HTTP GET answers with the expected status (and body text, when asked).
public struct HTTPProbe: HealthProbe {
    public var url: String
    public var expectedStatus: Int
    public var bodyContains: String?
    public var timeout: Duration
    /// Bodies are read up to this size when a substring is expected.
    public var maxBodyBytes = 64 * 1024

    public init(url: String, expectedStatus: Int, bodyContains: String?, timeout: Duration) {
        self.url = url
        self.expectedStatus = expectedStatus
        self.bodyContains = bodyContains
        self.timeout = timeout
    }

    public func check() async -> ProbeOutcome {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "zonal-health")
        // A fresh connection per probe, as HAProxy's checks make: a server that stopped
        // accepting connections must not look healthy over an old one.
        request.headers.add(name: "Connection", value: "close")
        do {
            let response = try await HTTPClient.zonal.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let status = Int(response.status.code)
            let body = try await response.body.collect(upTo: maxBodyBytes)
            guard status == expectedStatus else {
                return .failure(reason: "GET \(url) answered \(status), expected \(expectedStatus)")
            }
            if let needle = bodyContains, !String(buffer: body).contains(needle) {
                return .failure(reason: "GET \(url) answered \(status) without \"\(needle)\" in the body")
            }
            return .success(detail: "GET \(url) answered \(status)")
        } catch {
            return .failure(reason: "GET \(url): \(error)")
        }
    }
}
