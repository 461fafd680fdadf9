import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ZonalCore
import ZonalObservability

/// Signed requests to one S3 endpoint, async end to end on AsyncHTTPClient's event loops: no
/// call holds a thread while it waits. Connection failures and 5xx answers are retried with
/// ``Backoff`` pauses on the injected clock: every repository request is idempotent.
struct S3Client: Sendable {
    let location: S3Location
    let signer: S3Signer
    /// Time allowed for one attempt, pack uploads included.
    var timeout: Duration = .seconds(120)
    /// Attempts after the first one.
    var retries = 3
    var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))
    var clock: any ZonalClock = SystemClock()
    /// Largest answer read into memory: a pack (at most a few MiB) or a listing page.
    static let maximumAnswer = 256 << 20

    struct Response {
        var status: Int
        var body: [UInt8]
        /// Header names in lower case.
        var headers: [String: String] = [:]

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends `method` for `key` of the bucket (nil: the bucket itself).
    func send(
        _ method: HTTPMethod, key: String?, query: [String: String] = [:], headers extra: [String: String] = [:], body: [UInt8] = []
    ) async throws(BackupError) -> Response {
        let path = "/\(location.bucket)" + (key.map { "/\($0)" } ?? "")
        let encodedQuery = S3Signer.encodeQuery(query)
        let url = location.endpoint + S3Signer.encodePath(path) + (encodedQuery.isEmpty ? "" : "?\(encodedQuery)")
        let payloadHash = S3Signer.payloadHash(body)
        var failures = 0
        while true {
            var headers = extra
            headers["host"] = location.host
            let signed = signer.sign(method: method.rawValue, path: path, query: query, headers: headers, payloadHash: payloadHash, date: Date())
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in signed { request.headers.add(name: name, value: value) }
            if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
            let outcome: Result<Response, BackupError>
            do {
                let response = try await HTTPClient.zonal.execute(request, deadline: .now() + .nanoseconds(timeout.nanoseconds))
                let bytes = try await response.body.collect(upTo: Self.maximumAnswer)
                let headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
                outcome = .success(Response(status: Int(response.status.code), body: Array(bytes.readableBytesView), headers: headers))
            } catch {
                outcome = .failure(.io("cannot reach S3 at \(location.endpoint) (\(method) \(path)): \(error)"))
            }
            let retryable =
                switch outcome {
                case .success(let response): response.status >= 500
                case .failure: true
                }
            guard retryable, failures < retries, !Task.isCancelled else { return try outcome.get() }
            failures += 1
            do { try await clock.sleep(for: backoff.delay(afterFailures: failures)) } catch { return try outcome.get() }
        }
    }

    /// An error for an unexpected answer, with S3's own code and message when it sent them.
    func failure(_ response: Response, _ what: String) -> BackupError {
        let text = response.text
        let code = XMLText.first("Code", in: text) ?? "HTTP \(response.status)"
        let message = XMLText.first("Message", in: text).map { ": \($0)" } ?? ""
        return .io("S3 \(what) in \(location): \(code)\(message)")
    }
}

/// The few pieces of S3's XML answers a repository needs, found by element name. Public so the
/// fuzz target and its seeded tests reach the real parser.
public enum XMLText {
    /// The text of every `<name>` element, entities decoded.
    public static func all(_ name: String, in text: Substring) -> [String] {
        blocks(name, in: text).map(decode)
    }

    public static func first(_ name: String, in text: String) -> String? {
        all(name, in: text[...]).first
    }

    /// The raw contents of every `<name>` element, for elements holding others.
    public static func blocks(_ name: String, in text: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = text
        while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
            found.append(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// `text` with the characters XML reserves written as entities, and control characters
    /// (which XML 1.0 cannot carry literally) as character references.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r": escaped += "&#\(scalar.value);"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
