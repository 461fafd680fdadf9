import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ZonalCore
import ZonalObservability

/// Calls one storage node's data API for a front end: the admin token on every request, a
/// deadline on each, the node's own error kind kept (a full disk stays a full disk).
public struct StorageNodeClient: Sendable {
    public let node: S3GatewayPlan.StorageEndpoint
    public let tokens: AdminTokenSource
    /// The deadline of every request but uploads and reads of bytes, which get theirs per call.
    public let timeout: Duration

    public init(node: S3GatewayPlan.StorageEndpoint, tokens: AdminTokenSource, timeout: Duration) {
        self.node = node
        self.tokens = tokens
        self.timeout = timeout
    }

    /// Streams `body` into a temporary file on the node.
    func upload<Body: AsyncSequence & Sendable>(_ body: Body, length: Int64?, deadline: Duration) async throws(ObjectsError) -> ReplicaStore.Receipt
    where Body.Element == ByteBuffer {
        var request = makeRequest("PUT", "/v1/uploads")
        request.body = .stream(body, length: length.map { .known($0) } ?? .unknown)
        return try await decode(try await send(request, deadline: deadline))
    }

    /// Whether the node answers its health check within `deadline`.
    func answers(within deadline: Duration) async -> Bool {
        (try? await send(makeRequest("GET", "/health"), deadline: deadline)) != nil
    }

    func discard(upload: String) async {
        _ = try? await send(makeRequest("DELETE", "/v1/uploads/\(upload)"), deadline: timeout)
    }

    func commit(upload: String?, version: ObjectVersion) async throws(ObjectsError) {
        try await post(StorageNodeWire.CommitRequest(upload: upload, version: version))
    }

    /// Replaces only the record of a version the node has (its tags).
    func retag(_ version: ObjectVersion) async throws(ObjectsError) {
        try await post(StorageNodeWire.CommitRequest(upload: nil, version: version, retag: true))
    }

    private func post(_ commit: StorageNodeWire.CommitRequest) async throws(ObjectsError) {
        var request = makeRequest("POST", "/v1/commit")
        let body = (try? JSONEncoder.zonal().encode(commit)) ?? Data()
        request.body = .bytes(ByteBuffer(bytes: body))
        _ = try await collect(try await send(request, deadline: timeout))
    }

    /// The node's newest version of `key` (or `versionID`); nil when it has none.
    func version(bucket: String, key: String, versionID: String? = nil) async throws(ObjectsError) -> ObjectVersion? {
        var path = "/v1/version?bucket=\(bucket)&key=\(Array(key.utf8).hex)"
        if let versionID { path += "&version=\(versionID)" }
        do {
            return try await decode(try await send(makeRequest("GET", path), deadline: timeout))
        } catch .notFound {
            return nil
        }
    }

    /// The verified bytes of a version in `range`; the stream fails if the node finds its
    /// replica corrupt or dies while sending.
    func bytes(of version: ObjectVersion, range: ClosedRange<Int64>?, deadline: Duration) async throws(ObjectsError) -> HTTPClientResponse.Body {
        var path = "/v1/bytes?bucket=\(version.bucket)&key=\(Array(version.key.utf8).hex)&version=\(version.versionID)"
        if let range { path += "&first=\(range.lowerBound)&last=\(range.upperBound)" }
        return try await send(makeRequest("GET", path), deadline: deadline).body
    }

    func list(bucket: String, prefix: [UInt8], after: [UInt8], limit: Int) async throws(ObjectsError) -> ListingMerge.Page {
        try await decode(
            try await send(makeRequest("GET", "/v1/list?bucket=\(bucket)&prefix=\(prefix.hex)&after=\(after.hex)&limit=\(limit)"), deadline: timeout))
    }

    /// Every version of the keys with `prefix` after `after`, newest first within a key.
    func versions(bucket: String, prefix: [UInt8], after: ListingMerge.Position?, limit: Int) async throws(ObjectsError) -> ListingMerge.Page {
        var path = "/v1/versions?bucket=\(bucket)&prefix=\(prefix.hex)&limit=\(limit)"
        if let after {
            path += "&after=\(after.key.hex)"
            if let versionID = after.versionID { path += "&after-version=\(versionID)" }
        }
        return try await decode(try await send(makeRequest("GET", path), deadline: timeout))
    }

    /// Up to `limit` rows of `bucket`'s change feed after `seq` that `filter` selects.
    func changes(bucket: String, after seq: Int64, filter: ChangeFilter, limit: Int) async throws(ObjectsError) -> ChangePage {
        try await decode(try await send(makeRequest("GET", Self.feedPath("/v1/changes", bucket, seq, filter) + "&limit=\(limit)"), deadline: timeout))
    }

    /// What of `bucket`'s change feed after `seq` `filter` selects.
    func backlog(bucket: String, after seq: Int64, filter: ChangeFilter) async throws(ObjectsError) -> Backlog {
        try await decode(try await send(makeRequest("GET", Self.feedPath("/v1/backlog", bucket, seq, filter)), deadline: timeout))
    }

    private static func feedPath(_ path: String, _ bucket: String, _ seq: Int64, _ filter: ChangeFilter) -> String {
        var path = "\(path)?bucket=\(bucket)&after=\(seq)&prefix=\(Array(filter.prefix.utf8).hex)&deletes=\(filter.deletes ? 1 : 0)"
        if let since = filter.since { path += "&since=\(since)" }
        return path
    }

    func removeKeys(bucket: String, prefix: String) async throws(ObjectsError) {
        _ = try await collect(try await send(makeRequest("DELETE", "/v1/keys?bucket=\(bucket)&prefix=\(Array(prefix.utf8).hex)"), deadline: timeout))
    }

    func removeBucket(_ bucket: String) async throws(ObjectsError) {
        _ = try await collect(try await send(makeRequest("DELETE", "/v1/buckets/\(bucket)"), deadline: timeout))
    }

    private func makeRequest(_ method: String, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: node.baseURL + path)
        request.method = .init(rawValue: method)
        if let token = tokens.current { request.headers.add(name: "Authorization", value: token.authorizationHeader) }
        return request
    }

    /// Sends `request`; a refusal by the node becomes its ``ObjectsError``.
    private func send(_ request: HTTPClientRequest, deadline: Duration) async throws(ObjectsError) -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.zonal.execute(request, timeout: .nanoseconds(deadline.nanoseconds))
        } catch {
            throw .storage("storage node \(node.name) did not answer: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let body = try await collect(response)
            let answer = try? JSONDecoder().decode(StorageNodeWire.ErrorAnswer.self, from: Data(buffer: body))
            throw StorageNodeWire.error(
                kind: answer?.kind ?? "storage", message: "storage node \(node.name): \(answer?.error ?? "HTTP \(response.status.code)")")
        }
        return response
    }

    private func collect(_ response: HTTPClientResponse) async throws(ObjectsError) -> ByteBuffer {
        do { return try await response.body.collect(upTo: 64 << 20) } catch { throw .storage("storage node \(node.name) broke off its answer: \(error)") }
    }

    private func decode<T: Decodable>(_ response: HTTPClientResponse) async throws(ObjectsError) -> T {
        let body = try await collect(response)
        do { return try JSONDecoder.zonal().decode(T.self, from: Data(buffer: body)) } catch {
            throw .storage("storage node \(node.name) sent an answer that cannot be read: \(error)")
        }
    }
}
