import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ZonalBackup
import ZonalCore
import ZonalObservability

/// The bucket a replication rule writes to, reached over S3 with Signature V4 (bodies streamed,
/// `UNSIGNED-PAYLOAD`, the content's SHA-256 sent as `x-amz-checksum-sha256` so the destination
/// verifies every byte of an object written in one piece). A Zonal store keeps each version's id and time
/// (``ReplicaHeaders``): applying a version twice, or out of order, converges to the same
/// state. Any other S3 endpoint gets the source's version id in user metadata instead.
struct ReplicationTarget: Sendable {
    /// Why an apply failed: worth retrying (the destination is away, busy or refuses for now), or
    /// refused for this version whatever happens (too large, malformed).
    enum Failure: Error, CustomStringConvertible {
        case transient(String)
        case refused(String)
        /// The destination bucket does not exist (yet).
        case missingBucket(String)

        var description: String {
            switch self {
            case .transient(let message), .refused(let message), .missingBucket(let message): message
            }
        }
    }

    /// An answer: its status, headers and (the start of) its body.
    struct Answer {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: String
    }

    /// Front ends of the destination, tried in turn.
    let endpoints: [String]
    let bucket: String
    let signer: S3Signer
    /// The destination is a Zonal store: versions keep their ids.
    let keepsVersionIDs: Bool
    /// For each request but the bodies, which get more per byte.
    let timeout: Duration

    /// Writes `version` with `body`, its bytes.
    func put(_ version: ObjectVersion, body: ObjectBytes) async throws(Failure) {
        var headers = ["content-type": version.contentType ?? "binary/octet-stream", "content-length": "\(version.size)"]
        for (name, value) in version.headers { headers[name] = value }
        for (name, value) in version.userMetadata { headers["x-amz-meta-\(name)"] = value }
        if let tags = version.tags, !tags.isEmpty {
            headers["x-amz-tagging"] = tags.sorted { $0.key < $1.key }.map { "\(S3Signer.encode($0.key))=\(S3Signer.encode($0.value))" }.joined(separator: "&")
        }
        // A multipart object has no SHA-256 of its whole content: its parts' blocks were verified
        // as they were read, and the length is checked at the other end.
        if let digest = [UInt8](hex: version.sha256), digest.count == 32 { headers["x-amz-checksum-sha256"] = Data(digest).base64EncodedString() }
        identify(version, in: &headers)
        let deadline = timeout + .seconds(version.size / (1 << 20))
        let answer = try await send(.PUT, key: version.key, headers: headers, deadline: deadline) { request in
            request.body = .stream(body, length: .known(version.size))
        }
        try check(answer, "PUT", version.key)
    }

    /// Writes `marker`, a delete marker (on a Zonal store with its id; elsewhere a DELETE).
    func delete(_ marker: ObjectVersion) async throws(Failure) {
        var headers: [String: String] = [:]
        identify(marker, in: &headers)
        try check(try await send(.DELETE, key: marker.key, headers: headers, deadline: timeout), "DELETE", marker.key)
    }

    /// Deletes `version` for good (a Zonal store only: elsewhere its id means nothing).
    func purge(_ version: ObjectVersion) async throws(Failure) {
        guard keepsVersionIDs else { return }
        try check(try await send(.DELETE, key: version.key, query: ["versionId": version.versionID], deadline: timeout), "DELETE", version.key)
    }

    /// Makes the destination bucket, with versioning on so that it keeps what the source keeps
    /// (a Zonal store only: elsewhere making buckets is the operator's business).
    func createBucket() async throws(Failure) {
        let made = try await send(.PUT, key: nil, deadline: timeout)
        if made.status.code != 409 { try check(made, "PUT", "the bucket") }
        let configuration = Array("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".utf8)
        let versioning = try await send(.PUT, key: nil, query: ["versioning": ""], headers: ["content-length": "\(configuration.count)"], deadline: timeout) {
            $0.body = .bytes(configuration)
        }
        try check(versioning, "PUT", "the bucket's versioning")
    }

    /// Whether the destination has `version` already (a resend after a restart is skipped).
    func has(_ version: ObjectVersion) async throws(Failure) -> Bool {
        if keepsVersionIDs {
            // A Zonal store finds a version by its id even where the bucket calls it `null`;
            // a delete marker named so answers 405.
            let answer = try await send(.HEAD, key: version.key, query: ["versionId": version.versionID], deadline: timeout)
            switch answer.status.code {
            case 200, 405: return true
            case 404: return false
            default: throw .transient("HEAD of \(version.key) in \(bucket) answered \(answer.status.code)")
            }
        }
        let answer = try await send(.HEAD, key: version.key, deadline: timeout)
        if version.isDeleteMarker { return answer.status.code == 404 }
        return answer.status.code == 200 && answer.headers.first(name: "x-amz-meta-\(ReplicaHeaders.sourceVersionMetadata)") == version.versionID
    }

    private func identify(_ version: ObjectVersion, in headers: inout [String: String]) {
        if keepsVersionIDs {
            headers[ReplicaHeaders.versionID] = version.versionID
            headers[ReplicaHeaders.lastModified] = "\(Int64((version.lastModified.timeIntervalSince1970 * 1000).rounded()))"
        } else if !version.isDeleteMarker {
            headers["x-amz-meta-\(ReplicaHeaders.sourceVersionMetadata)"] = version.versionID
        }
    }

    private func check(_ answer: Answer, _ method: String, _ what: String) throws(Failure) {
        let code = XMLText.first("Code", in: answer.body).map { " \($0)" } ?? ""
        let message = XMLText.first("Message", in: answer.body).map { ": \($0)" } ?? ""
        let described = "\(method) of \(what) in \(bucket) answered \(answer.status.code)\(code)\(message)"
        switch answer.status.code {
        case 200..<300: return
        case 404 where code == " NoSuchBucket": throw .missingBucket(described)
        case 400, 411, 413: throw .refused(described)
        default: throw .transient(described)
        }
    }

    /// Sends one signed request (to the bucket itself when `key` is nil) to the first endpoint
    /// that answers; what it answered.
    private func send(
        _ method: HTTPMethod, key: String?, query: [String: String] = [:], headers extra: [String: String] = [:], deadline: Duration,
        body: (inout HTTPClientRequest) -> Void = { _ in }
    ) async throws(Failure) -> Answer {
        let path = "/\(bucket)" + (key.map { "/\($0)" } ?? "")
        let encodedQuery = S3Signer.encodeQuery(query)
        var failures: [String] = []
        for endpoint in endpoints {
            guard let host = URL(string: endpoint).flatMap(Self.hostHeader) else { continue }
            var headers = extra
            headers["host"] = host
            let signed = signer.sign(method: method.rawValue, path: path, query: query, headers: headers, payloadHash: "UNSIGNED-PAYLOAD", date: Date())
            var request = HTTPClientRequest(url: endpoint + S3Signer.encodePath(path) + (encodedQuery.isEmpty ? "" : "?\(encodedQuery)"))
            request.method = method
            for (name, value) in signed where name != "content-length" { request.headers.add(name: name, value: value) }
            body(&request)
            do {
                let response = try await HTTPClient.zonal.execute(request, deadline: .now() + .nanoseconds(deadline.nanoseconds))
                let text = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
                return Answer(status: response.status, headers: response.headers, body: text)
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        throw .transient("no front end of the destination answered (\(failures.joined(separator: "; ")))")
    }

    private static func hostHeader(_ url: URL) -> String? {
        guard let host = url.host else { return nil }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return url.port.map { "\(bracketed):\($0)" } ?? bracketed
    }
}

/// The headers a replicator sends to a Zonal store so that a replicated version keeps its
/// identity: honoured from the store's root key only.
public enum ReplicaHeaders {
    /// On PUT and DELETE: the version id the write must have.
    public static let versionID = "x-zonal-replica-version-id"
    /// On PUT and DELETE: its last-modified time, milliseconds since 1970.
    public static let lastModified = "x-zonal-replica-last-modified"
    /// The user metadata name that carries the source's version id on any other S3 endpoint.
    public static let sourceVersionMetadata = "zonal-source-version"
}
