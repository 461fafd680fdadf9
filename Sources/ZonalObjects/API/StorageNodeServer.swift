import Foundation
import Hummingbird
import Logging
import NIOCore
import ZonalCore
import ZonalObservability

/// A storage node's data API, for the S3 front ends only (every route wants the admin token):
/// uploads to temporary files, commits of versions, version records, verified bytes, listings.
public struct StorageNodeServer: Sendable {
    public let store: ReplicaStore
    public let tokens: AdminTokenSource

    public init(store: ReplicaStore, tokens: AdminTokenSource) {
        self.store = store
        self.tokens = tokens
    }

    public func application(host: String, port: Int, limits: APILimits, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: limits.metrics) { $0.method == .get && $0.uri.path == "/health" })
        let store = self.store
        router.get("/health") { _, _ in Response.json(["directory": store.directory]) }
        router.put("/v1/uploads") { request, _ in
            try await Self.answer { () throws(ObjectsError) in Response.json(try await store.receive(request.body)) }
        }
        router.delete("/v1/uploads/:upload") { _, context in
            store.discard(upload: context.parameters.get("upload") ?? "")
            return Response(status: .noContent)
        }
        router.post("/v1/commit") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let body = try await Self.collect(request)
                guard let commit = try? JSONDecoder.zonal().decode(StorageNodeWire.CommitRequest.self, from: Data(buffer: body)) else {
                    throw .invalid("the commit request is not a version record")
                }
                if commit.retag == true {
                    try await store.retag(commit.version)
                } else {
                    try await store.commit(upload: commit.upload, version: commit.version)
                }
                return Response(status: .noContent)
            }
        }
        router.get("/v1/version") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let (bucket, key) = try Self.object(request)
                guard let version = try await store.version(bucket: bucket, key: key, versionID: request.uri.queryParameters["version"].map(String.init)) else {
                    throw .notFound("no version of \(bucket)/\(key) on this node")
                }
                return Response.json(version)
            }
        }
        router.get("/v1/bytes") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let (bucket, key) = try Self.object(request)
                guard let versionID = request.uri.queryParameters["version"].map(String.init) else { throw .invalid("which version?") }
                let parameters = request.uri.queryParameters
                var range: ClosedRange<Int64>?
                if let first = parameters["first"].flatMap({ Int64($0) }), let last = parameters["last"].flatMap({ Int64($0) }), first >= 0, last >= first {
                    range = first...last
                }
                let (version, bytes) = try await store.read(bucket: bucket, key: key, versionID: versionID, range: range)
                if let range, range.upperBound >= version.size { throw .invalid("the range ends beyond the object's \(version.size) bytes") }
                let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? version.size
                return Response(
                    status: .ok, headers: [.contentType: "application/octet-stream"],
                    body: ResponseBody(contentLength: Int(length)) { writer in
                        for try await buffer in bytes { try await writer.write(buffer) }
                        try await writer.finish(nil)
                    })
            }
        }
        router.get("/v1/list") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let parameters = request.uri.queryParameters
                guard let bucket = parameters["bucket"].map(String.init), let prefix = [UInt8](hex: String(parameters["prefix"] ?? "")),
                    let after = [UInt8](hex: String(parameters["after"] ?? "")), let limit = parameters["limit"].flatMap({ Int($0) }),
                    (1...10_000).contains(limit)
                else { throw .invalid("a listing needs bucket, hex prefix and after, and a limit of 1 to 10000") }
                let (versions, truncated) = try await store.list(bucket: bucket, prefix: prefix, after: after, limit: limit)
                return Response.json(ListingMerge.Page(versions: versions, truncated: truncated))
            }
        }
        router.get("/v1/versions") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let parameters = request.uri.queryParameters
                guard let bucket = parameters["bucket"].map(String.init), let prefix = [UInt8](hex: parameters["prefix"] ?? ""),
                    let limit = parameters["limit"].flatMap({ Int($0) }), (1...10_000).contains(limit)
                else { throw .invalid("a listing of versions needs bucket, a hex prefix and a limit of 1 to 10000") }
                var after: ListingMerge.Position?
                if let key = parameters["after"] {
                    guard let bytes = [UInt8](hex: key) else { throw .invalid("after must be a hex key") }
                    after = .init(key: bytes, versionID: parameters["after-version"].map(String.init))
                }
                let (versions, truncated) = try await store.versions(bucket: bucket, prefix: prefix, after: after, limit: limit)
                return Response.json(ListingMerge.Page(versions: versions, truncated: truncated))
            }
        }
        router.get("/v1/changes") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let (bucket, after, filter) = try Self.feedQuery(request)
                guard let limit = request.uri.queryParameters["limit"].flatMap({ Int($0) }), (1...10_000).contains(limit) else {
                    throw .invalid("a read of the change feed needs a limit of 1 to 10000")
                }
                return Response.json(try await store.changes(bucket: bucket, after: after, filter: filter, limit: limit))
            }
        }
        router.get("/v1/backlog") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let (bucket, after, filter) = try Self.feedQuery(request)
                return Response.json(try await store.backlog(bucket: bucket, after: after, filter: filter))
            }
        }
        router.delete("/v1/keys") { request, _ in
            try await Self.answer { () throws(ObjectsError) in
                let parameters = request.uri.queryParameters
                guard let bucket = parameters["bucket"].map(String.init), let prefix = [UInt8](hex: String(parameters["prefix"] ?? "")), !prefix.isEmpty
                else {
                    throw .invalid("removing keys needs bucket and a non-empty hex prefix")
                }
                try await store.removeKeys(bucket: bucket, prefix: prefix)
                return Response(status: .noContent)
            }
        }
        router.delete("/v1/buckets/:bucket") { _, context in
            try await Self.answer { () throws(ObjectsError) in
                try await store.removeBucket(context.parameters.get("bucket") ?? "")
                return Response(status: .noContent)
            }
        }
        return APIServer.application(router: router, host: host, port: port, name: "zonal-objects-node", limits: limits, logger: logger)
    }

    private static func object(_ request: Request) throws(ObjectsError) -> (String, String) {
        let parameters = request.uri.queryParameters
        guard let bucket = parameters["bucket"].map(String.init), let keyBytes = [UInt8](hex: String(parameters["key"] ?? "")),
            let key = String(validating: keyBytes, as: UTF8.self), !key.isEmpty
        else { throw .invalid("a request for an object needs bucket and a hex key") }
        return (bucket, key)
    }

    /// The bucket, the feed position and the rule's filter of a change feed request.
    private static func feedQuery(_ request: Request) throws(ObjectsError) -> (String, Int64, ChangeFilter) {
        let parameters = request.uri.queryParameters
        guard let bucket = parameters["bucket"].map(String.init), let after = parameters["after"].flatMap({ Int64($0) }), after >= 0,
            let prefixBytes = [UInt8](hex: String(parameters["prefix"] ?? "")), let prefix = String(validating: prefixBytes, as: UTF8.self)
        else { throw .invalid("a change feed request needs bucket, after (a number of 0 or more) and a hex prefix") }
        let since = parameters["since"].map(String.init)
        if let since, !VersionID.isValid(since) { throw .invalid("since must be a version id") }
        return (bucket, after, ChangeFilter(prefix: prefix, since: since, deletes: parameters["deletes"] == "1"))
    }

    private static func collect(_ request: Request) async throws(ObjectsError) -> ByteBuffer {
        do { return try await request.body.collect(upTo: 1 << 20) } catch { throw .invalid("the request body is larger than 1 MiB or broke off") }
    }

    private static func answer(_ work: () async throws(ObjectsError) -> Response) async throws -> Response {
        do {
            return try await work()
        } catch {
            return Response.json(
                status: .init(code: StorageNodeWire.status(of: error)),
                StorageNodeWire.ErrorAnswer(error: error.description, kind: StorageNodeWire.kind(of: error)))
        }
    }
}
