import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ZonalCore
import ZonalObservability

/// Serves an ``EmbeddedCoordinator`` to other processes on loopback, speaking the subset of
/// etcd's v3 JSON gateway that ``EtcdCoordinator`` uses: `kv/range`, `kv/put`, `kv/deleterange`,
/// `kv/txn`, `kv/compaction`, `lease/grant`, `lease/keepalive`, `lease/revoke`,
/// `lease/timetolive`, `watch` (a stream of JSON lines) and `maintenance/status`.
///
/// Every call wants a credential, presented as etcd's gateway wants its auth token (the
/// `Authorization` header): `auth/authenticate` with user `root` and the admin token as the
/// password opens a session and answers with its token, so a client that speaks to an etcd with
/// auth enabled speaks to this server unchanged; the admin token itself is accepted too. Each
/// session is one client of ``ClientQuotas`` (``CoordinatorClients``). Only `/health`,
/// `/metrics` and `auth/authenticate` are open.
public struct CoordinatorServer: Sendable {
    public let coordinator: EmbeddedCoordinator
    public let tokens: AdminTokenSource
    let clients: CoordinatorClients

    /// The user name `auth/authenticate` accepts, etcd's superuser.
    public static let user = "root"

    public init(coordinator: EmbeddedCoordinator, tokens: AdminTokenSource, quotas: ClientQuotas.Limits = .init()) {
        self.coordinator = coordinator
        self.tokens = tokens
        self.clients = CoordinatorClients(quotas: quotas)
    }

    public func router(metrics: MetricsAccess = .loopback) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let coordinator = self.coordinator
        let tokens = self.tokens
        let clients = self.clients
        router.add(
            middleware: AdminTokenMiddleware(
                tokens: tokens, metrics: metrics,
                isOpen: { request in
                    AdminTokenMiddleware<APIRequestContext>.health(request) || (request.method == .post && request.uri.path == "/v3/auth/authenticate")
                },
                acceptsDerived: { clients.client(presenting: $0, admin: $1) != nil }))
        router.addAdminRoutes()
        router.post("/v3/auth/authenticate") { request, context in
            try await Self.handle(request, context, Gateway.AuthenticateRequest.self) { body throws(CoordinatorError) in
                guard body.name == Self.user, let token = tokens.current, token.matches(body.password) else {
                    throw .rejected(Gateway.authenticationFailed)
                }
                return Gateway.AuthenticateResponse(header: Self.header(await coordinator.revision), token: clients.login(under: token))
            }
        }
        router.post("/v3/kv/range") { request, context in
            try await Self.handle(request, context, Gateway.RangeRequest.self) { body throws(CoordinatorError) in
                let keyValues: [KeyValue]
                let revision: Int64
                if let end = body.range_end?.bytes, end == prefixRangeEnd(body.key.string) {
                    let result = await coordinator.range(prefix: body.key.string)
                    (keyValues, revision) = (result.keyValues, result.revision)
                } else if body.range_end == nil {
                    keyValues = await coordinator.get(body.key.string).map { [$0] } ?? []
                    revision = await coordinator.revision
                } else {
                    throw .rejected("only single keys and whole prefixes can be read")
                }
                return Gateway.RangeResponse(header: Self.header(revision), kvs: keyValues.map(Gateway.KeyValueJSON.init), count: .init(Int64(keyValues.count)))
            }
        }
        router.post("/v3/kv/put") { request, context in
            try await Self.handle(request, context, Gateway.PutRequest.self) { body throws(CoordinatorError) in
                let lease = body.lease.flatMap { $0.value == 0 ? nil : LeaseID(rawValue: $0.value) }
                try await clients.admitKeys([body.key.string], for: Self.client(of: request, clients, tokens), in: coordinator)
                let revision = try await coordinator.put(body.key.string, value: body.value?.bytes ?? [], lease: lease)
                return Gateway.PutResponse(header: Self.header(revision))
            }
        }
        router.post("/v3/kv/deleterange") { request, context in
            try await Self.handle(request, context, Gateway.DeleteRangeRequest.self) { body throws(CoordinatorError) in
                guard body.range_end == nil else { throw .rejected("only single keys can be deleted") }
                let deleted = try await coordinator.delete(body.key.string)
                clients.deleted([body.key.string], by: Self.client(of: request, clients, tokens))
                return Gateway.DeleteRangeResponse(header: Self.header(await coordinator.revision), deleted: .init(deleted ? 1 : 0))
            }
        }
        router.post("/v3/kv/txn") { request, context in
            try await Self.handle(request, context, Gateway.TxnRequest.self) { body throws(CoordinatorError) in
                var compares: [Transaction.Compare] = []
                for compare in body.compare ?? [] { compares.append(try Transaction.Compare(gateway: compare)) }
                var success: [Transaction.Operation] = []
                var failure: [Transaction.Operation] = []
                for operation in body.success ?? [] { success.append(try Transaction.Operation(gateway: operation)) }
                for operation in body.failure ?? [] { failure.append(try Transaction.Operation(gateway: operation)) }
                let client = Self.client(of: request, clients, tokens)
                try await clients.admitKeys((success + failure).compactMap(\.writtenKey), for: client, in: coordinator)
                let result = try await coordinator.transaction(Transaction(compares: compares, success: success, failure: failure))
                clients.deleted((result.succeeded ? success : failure).compactMap(\.deletedKey), by: client)
                var gets = result.gets.makeIterator()
                let responses = (result.succeeded ? success : failure).map { operation -> Gateway.ResponseOp in
                    switch operation {
                    case .get: Gateway.ResponseOp(response_range: .init(kvs: (gets.next() ?? nil).map { [Gateway.KeyValueJSON($0)] } ?? []))
                    case .put: Gateway.ResponseOp(response_put: .init())
                    case .delete: Gateway.ResponseOp(response_delete_range: .init())
                    }
                }
                return Gateway.TxnResponse(header: Self.header(result.revision), succeeded: result.succeeded, responses: responses)
            }
        }
        router.post("/v3/kv/compaction") { request, context in
            try await Self.handle(request, context, Gateway.CompactionRequest.self) { body throws(CoordinatorError) in
                try await coordinator.compact(through: body.revision.value)
                return Gateway.PutResponse(header: Self.header(await coordinator.revision))
            }
        }
        router.post("/v3/lease/grant") { request, context in
            try await Self.handle(request, context, Gateway.LeaseGrantRequest.self) { body throws(CoordinatorError) in
                let client = Self.client(of: request, clients, tokens)
                try await clients.admitLease(for: client, in: coordinator)
                let lease = try await coordinator.grantLease(ttl: .seconds(body.TTL.value))
                await clients.granted(lease.id, to: client, in: coordinator)
                return Gateway.LeaseGrantResponse(header: Self.header(await coordinator.revision), ID: .init(lease.id.rawValue), TTL: .init(body.TTL.value))
            }
        }
        router.post("/v3/lease/keepalive") { request, context in
            try await Self.handle(request, context, Gateway.LeaseIDRequest.self) { body throws(CoordinatorError) in
                // Like etcd: an expired lease answers with no TTL rather than an error.
                let ttl = try? await coordinator.renewLease(LeaseID(rawValue: body.ID.value))
                return Gateway.LeaseKeepAliveResponse(
                    result: .init(
                        header: Self.header(await coordinator.revision), ID: body.ID,
                        TTL: ttl.map { .init($0.nanoseconds / 1_000_000_000) }))
            }
        }
        router.post("/v3/lease/revoke") { request, context in
            try await Self.handle(request, context, Gateway.LeaseIDRequest.self) { body throws(CoordinatorError) in
                try await coordinator.revokeLease(LeaseID(rawValue: body.ID.value))
                clients.revoked(LeaseID(rawValue: body.ID.value), by: Self.client(of: request, clients, tokens))
                return Gateway.LeaseRevokeResponse(header: Self.header(await coordinator.revision))
            }
        }
        router.post("/v3/lease/timetolive") { request, context in
            try await Self.handle(request, context, Gateway.LeaseIDRequest.self) { body throws(CoordinatorError) in
                let remaining = await coordinator.timeToLive(LeaseID(rawValue: body.ID.value))
                let seconds = remaining.map { Int64(($0.seconds).rounded(.up)) } ?? -1
                return Gateway.LeaseTimeToLiveResponse(header: Self.header(await coordinator.revision), ID: body.ID, TTL: .init(seconds))
            }
        }
        router.post("/v3/maintenance/status") { _, _ in
            let status = await coordinator.status()
            return Self.json(Gateway.StatusResponse(header: Self.header(status.revision), version: status.version, leader: .init(1)))
        }
        router.post("/v3/watch") { request, context -> Response in
            let body: Gateway.WatchRequest
            do {
                body = try JSONDecoder().decode(Gateway.WatchRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            } catch {
                return Self.failure(.rejected("invalid watch request: \(error)"), status: .badRequest)
            }
            let create = body.create_request
            let prefix = create.key.string
            guard create.range_end?.bytes == prefixRangeEnd(prefix) else {
                return Self.failure(.rejected("only whole prefixes can be watched"), status: .badRequest)
            }
            let start = create.start_revision?.value ?? 0
            let from = start > 0 ? start : await coordinator.revision + 1
            let events = coordinator.watch(prefix: prefix, fromRevision: from)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    try await writer.write(Self.line(Gateway.WatchResponse(result: .init(header: Self.header(await coordinator.revision), created: true))))
                    do {
                        // A watch is endless: end it when the server shuts down.
                        for try await event in events.cancelOnGracefulShutdown() {
                            let json = Gateway.Event(type: event.kind == .delete ? "DELETE" : nil, kv: Gateway.KeyValueJSON(event.keyValue))
                            try await writer.write(Self.line(Gateway.WatchResponse(result: .init(header: Self.header(event.revision), events: [json]))))
                        }
                    } catch CoordinatorError.compacted(_, let through) {
                        try await writer.write(Self.line(Gateway.WatchResponse(result: .init(canceled: true, compact_revision: .init(through + 1)))))
                    } catch let error as CoordinatorError {
                        // Cut off (it fell too far behind) or disconnected: say why, as etcd does, so
                        // the client resumes from the last revision it read.
                        context.logger.debug("watch ended", metadata: ["reason": "\(error)"])
                        try await writer.write(Self.line(Gateway.WatchResponse(result: .init(canceled: true, cancel_reason: error.description))))
                    } catch {
                        context.logger.debug("watch ended", metadata: ["reason": "\(error)"])
                    }
                    try await writer.finish(nil)
                })
        }
        return router
    }

    /// The server as an application listening on `host:port`.
    /// The client a request comes from, by the credential the token middleware let through.
    private static func client(of request: Request, _ clients: CoordinatorClients, _ tokens: AdminTokenSource) -> String {
        guard let presented = request.headers[.authorization], let admin = tokens.current else { return CoordinatorClients.admin }
        let secret = presented.hasPrefix("Bearer ") ? presented.dropFirst("Bearer ".count) : Substring(presented)
        return clients.client(presenting: secret, admin: admin) ?? CoordinatorClients.admin
    }

    public func application(host: String, port: Int, limits: APILimits = .init(), logger: Logger) -> some ApplicationProtocol {
        APIServer.application(router: router(metrics: limits.metrics), host: host, port: port, name: "zonal-coordinator", limits: limits, logger: logger)
    }

    /// Opens the embedded coordinator's state in `directory` and serves it on `host:port`: what
    /// `zonal up` and `zonal coordinator serve` both run.
    public static func start(
        directory: String, host: String, port: Int, tokens: AdminTokenSource, limits: APILimits = .init(),
        logger: Logger
    ) throws(CoordinatorError) -> (EmbeddedCoordinator, some ApplicationProtocol) {
        let coordinator = try EmbeddedCoordinator(directory: directory, endpoint: "http://\(IPAddressText.hostPort(host, port))")
        return (coordinator, CoordinatorServer(coordinator: coordinator, tokens: tokens).application(host: host, port: port, limits: limits, logger: logger))
    }

    // MARK: Encoding

    private static func handle<Body: Decodable, Answer: Encodable>(
        _ request: Request, _ context: APIRequestContext, _: Body.Type,
        _ action: (Body) async throws(CoordinatorError) -> Answer
    ) async throws -> Response {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(buffer: try await request.body.collect(upTo: 4 << 20)))
        } catch {
            return failure(.rejected("invalid request body: \(error)"), status: .badRequest)
        }
        do {
            return json(try await action(body))
        } catch {
            switch error {
            case .leaseNotFound: return failure(error, status: .notFound, message: Gateway.leaseNotFound)
            case .storage, .corruptState: return failure(error, status: .internalServerError)
            default: return failure(error, status: .badRequest)
            }
        }
    }

    private static func header(_ revision: Int64) -> Gateway.Header {
        Gateway.Header(revision: .init(revision), member_id: .init(1))
    }

    private static func json(_ value: some Encodable) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: line(value)))
    }

    private static func line(_ value: some Encodable) -> ByteBuffer {
        var bytes = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }

    private static func failure(_ error: CoordinatorError, status: HTTPResponse.Status, message: String? = nil) -> Response {
        var response = json(Gateway.ErrorBody(error: message ?? error.description, message: message ?? error.description, code: status == .notFound ? 5 : 3))
        response.status = status
        return response
    }
}
