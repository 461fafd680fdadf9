import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import ZonalCore
import ZonalObservability

/// A ``Coordinator`` backed by etcd v3 through its JSON gateway (`/v3/...` on the client port),
/// or by `zonal coordinator serve`, which speaks the same subset.
///
/// Calls go to the last endpoint that answered and fail over to the next on a connection error,
/// so losing one etcd member costs a retry, not an error; an endpoint that failed is tried last
/// until its ``EndpointRotation`` pause ends. Watches are one streaming request
/// each; ``Coordinator/resumingWatch(prefix:fromRevision:backoff:clock:)`` reconnects them.
public final class EtcdCoordinator: Coordinator {
    public let endpoints: [String]
    /// Deadline of one unary call. Default 2 s.
    public let requestTimeout: Duration
    /// etcd's user and password, traded for an auth token at `auth/authenticate` before the
    /// first call and again whenever the token is refused. Nil for a cluster without auth; while
    /// etcd says its authentication is off, calls go without a token (as etcd's own client does).
    public let credentials: Credentials?
    /// What the last login found: no answer yet, a token, or authentication off (calls then go
    /// without a token, and the login is tried again only when one is refused).
    private enum Login: Sendable {
        case none
        case token(String)
        case authenticationOff
    }
    private let login = Mutex(Login.none)
    private let rotation: Mutex<EndpointRotation>
    private let tls: TLSConfiguration?
    /// Dates endpoint failures for the rotation's pauses.
    private let clock: any ZonalClock
    private let openWatches = Mutex<[UUID: Task<Void, Never>]>([:])

    /// A user of etcd's authentication; never logged.
    public struct Credentials: Sendable, Hashable, CustomStringConvertible {
        public var user: String
        public var password: String

        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }

        public var description: String { "Credentials(user: \(user))" }
    }

    /// A client of a topology's coordinator: the embedded one, logged into with the admin
    /// token, or the etcd cluster it names (as `user` with `password_file`; the members of a
    /// `local_cluster` as root with the admin token, like the embedded coordinator).
    /// `endpoints` replaces the topology's (a node-local proxy).
    public convenience init(
        settings: CoordinatorSpec, token: AdminToken?, endpoints: [String] = [],
        requestTimeout: Duration = .seconds(2), clock: any ZonalClock = SystemClock()
    ) throws(CoordinatorError) {
        let credentials: Credentials?
        switch settings.backend {
        case .embedded:
            credentials = token.map { Credentials(user: CoordinatorServer.user, password: $0.secret) }
        case .etcd:
            if let user = settings.user, let file = settings.passwordFile {
                credentials = Credentials(user: user, password: try Self.readPassword(file))
            } else if settings.localCluster {
                credentials = token.map { Credentials(user: CoordinatorServer.user, password: $0.secret) }
            } else {
                credentials = nil
            }
        }
        try self.init(
            endpoints: endpoints.isEmpty ? settings.clientEndpoints : endpoints, credentials: credentials,
            tls: try settings.tls.map(Self.tlsConfiguration), requestTimeout: requestTimeout, clock: clock)
    }

    /// Validates the endpoints (`http://HOST:PORT`, or `https://` with `tls`) without connecting.
    public init(
        endpoints: [String], credentials: Credentials? = nil, tls: TLSConfiguration? = nil,
        requestTimeout: Duration = .seconds(2), clock: any ZonalClock = SystemClock()
    ) throws(CoordinatorError) {
        guard !endpoints.isEmpty else { throw .rejected("no etcd endpoints given") }
        for endpoint in endpoints {
            guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil, url.port != nil else {
                throw .rejected("etcd endpoint \"\(endpoint)\" must look like http://HOST:PORT")
            }
        }
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.requestTimeout = requestTimeout
        self.credentials = credentials
        self.tls = tls
        self.clock = clock
        rotation = Mutex(EndpointRotation(count: endpoints.count))
    }

    /// The first line of an etcd password file, which only its owner may read.
    private static func readPassword(_ file: String) throws(CoordinatorError) -> String {
        do { return try SecretFile.read(file) } catch { throw .rejected("etcd password file \(error)") }
    }

    /// Trusts etcd's CA only, and presents the client certificate when there is one.
    private static func tlsConfiguration(_ files: CoordinatorSpec.TLSFiles) throws(CoordinatorError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(files.ca))
            if let certificate = files.certificate, let key = files.key {
                if case .failure(let error) = SecretFile.checkPrivate(key) { throw CoordinatorError.rejected("etcd client key \(error)") }
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw .rejected("cannot load the etcd TLS files (ca \(files.ca), certificate \(files.certificate ?? "none")): \(error)")
        }
        return tls
    }

    // MARK: Coordinator

    public func get(_ key: String) async throws(CoordinatorError) -> KeyValue? {
        let response: Gateway.RangeResponse = try await call("/v3/kv/range", Gateway.RangeRequest(key: .init(key)))
        return response.kvs?.first?.model
    }

    public func range(prefix: String) async throws(CoordinatorError) -> RangeResult {
        let response: Gateway.RangeResponse = try await call("/v3/kv/range", Gateway.RangeRequest(key: .init(prefix), range_end: .init(prefixRangeEnd(prefix))))
        return RangeResult(keyValues: (response.kvs ?? []).map(\.model), revision: response.header?.revision?.value ?? 0)
    }

    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: LeaseID?) async throws(CoordinatorError) -> Int64 {
        let response: Gateway.PutResponse = try await call(
            "/v3/kv/put", Gateway.PutRequest(key: .init(key), value: .init(value), lease: lease.map { .init($0.rawValue) }))
        return response.header?.revision?.value ?? 0
    }

    @discardableResult
    public func delete(_ key: String) async throws(CoordinatorError) -> Bool {
        let response: Gateway.DeleteRangeResponse = try await call("/v3/kv/deleterange", Gateway.DeleteRangeRequest(key: .init(key)))
        return (response.deleted?.value ?? 0) > 0
    }

    public func transaction(_ transaction: Transaction) async throws(CoordinatorError) -> TransactionResult {
        let request = Gateway.TxnRequest(
            compare: transaction.compares.map(\.gateway), success: transaction.success.map(\.gateway),
            failure: transaction.failure.map(\.gateway))
        let response: Gateway.TxnResponse = try await call("/v3/kv/txn", request)
        let succeeded = response.succeeded ?? false
        let gets = (response.responses ?? []).compactMap { $0.response_range.map { $0.kvs?.first?.model } }
        return TransactionResult(succeeded: succeeded, revision: response.header?.revision?.value ?? 0, gets: gets)
    }

    public func grantLease(ttl: Duration) async throws(CoordinatorError) -> Lease {
        let seconds = max(1, Int64((ttl.seconds).rounded(.up)))
        let response: Gateway.LeaseGrantResponse = try await call("/v3/lease/grant", Gateway.LeaseGrantRequest(TTL: .init(seconds)))
        if let error = response.error, !error.isEmpty { throw .rejected(error) }
        guard let id = response.ID?.value, let granted = response.TTL?.value else { throw .badAnswer("lease grant without ID or TTL") }
        return Lease(id: LeaseID(rawValue: id), ttl: .seconds(granted))
    }

    public func renewLease(_ id: LeaseID) async throws(CoordinatorError) -> Duration {
        let response: Gateway.LeaseKeepAliveResponse = try await call("/v3/lease/keepalive", Gateway.LeaseIDRequest(ID: .init(id.rawValue)))
        guard let ttl = response.result?.TTL?.value, ttl > 0 else { throw .leaseNotFound(id) }
        return .seconds(ttl)
    }

    public func revokeLease(_ id: LeaseID) async throws(CoordinatorError) {
        let _: Gateway.LeaseRevokeResponse = try await call("/v3/lease/revoke", Gateway.LeaseIDRequest(ID: .init(id.rawValue)))
    }

    public func timeToLive(_ id: LeaseID) async throws(CoordinatorError) -> Duration? {
        let response: Gateway.LeaseTimeToLiveResponse = try await call("/v3/lease/timetolive", Gateway.LeaseIDRequest(ID: .init(id.rawValue)))
        guard let ttl = response.TTL?.value, ttl >= 0 else { return nil }
        return .seconds(ttl)
    }

    public func compact(through revision: Int64) async throws(CoordinatorError) {
        let _: Gateway.PutResponse = try await call("/v3/kv/compaction", Gateway.CompactionRequest(revision: .init(revision)))
    }

    public func status() async throws(CoordinatorError) -> CoordinatorStatus {
        let (response, endpoint): (Gateway.StatusResponse, String) = try await callReportingEndpoint("/v3/maintenance/status", [String: String]())
        let member = response.header?.member_id?.value ?? 0
        let leader = response.leader?.value ?? 0
        return CoordinatorStatus(
            backend: response.version == "zonal-embedded" ? "embedded" : "etcd", endpoint: endpoint, version: response.version ?? "?",
            leader: leader == member ? endpoint : String(UInt64(bitPattern: leader), radix: 16),
            revision: response.header?.revision?.value ?? 0)
    }

    public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let id = UUID()
        let task = Task {
            do {
                try await self.streamWatch(prefix: prefix, from: revision, into: continuation)
                continuation.finish(throwing: CoordinatorError.unreachable(endpoints: self.endpoints, reason: "watch stream ended"))
            } catch {
                continuation.finish(throwing: Task.isCancelled ? CoordinatorError.unreachable(endpoints: self.endpoints, reason: "watch interrupted") : error)
            }
            _ = self.openWatches.withLock { $0.removeValue(forKey: id) }
        }
        openWatches.withLock { $0[id] = task }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Drops every open watch connection, as a network failure would. Plain watches end with an
    /// error; resuming watches reconnect and continue from their revision.
    public func interruptWatches() {
        for task in openWatches.withLock({ Array($0.values) }) { task.cancel() }
    }

    // MARK: Transport

    private func streamWatch(prefix: String, from revision: Int64, into continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) async throws {
        let body = try JSONEncoder().encode(
            Gateway.WatchRequest(
                create_request: .init(
                    key: .init(prefix), range_end: .init(prefixRangeEnd(prefix)), start_revision: .init(max(revision, 1)))))
        let response = try await send("/v3/watch", body: body, deadline: .distantFuture).response
        guard response.status == .ok else {
            throw CoordinatorError.rejected("watch answered \(response.status.code): \(String(buffer: try await response.body.collect(upTo: 65536)))")
        }
        var decoder = WatchStreamDecoder(requestedRevision: revision)
        for try await chunk in response.body {
            for event in try decoder.feed(chunk) { continuation.yield(event) }
        }
    }

    private func call<Request: Encodable, Answer: Decodable>(_ path: String, _ request: Request) async throws(CoordinatorError) -> Answer {
        try await callReportingEndpoint(path, request).0
    }

    /// Sends one unary call, failing over between endpoints on connection errors.
    private func callReportingEndpoint<Request: Encodable, Answer: Decodable>(_ path: String, _ request: Request) async throws(CoordinatorError) -> (
        Answer, String
    ) {
        let body: Data
        do { body = try JSONEncoder().encode(request) } catch { throw .badAnswer("cannot encode request: \(error)") }
        let (response, endpoint) = try await send(path, body: body, deadline: .now() + .nanoseconds(requestTimeout.nanoseconds))
        let bytes: ByteBuffer
        do { bytes = try await response.body.collect(upTo: 16 << 20) } catch { throw .unreachable(endpoints: [endpoint], reason: "\(error)") }
        guard response.status == .ok else {
            let failure = try? JSONDecoder().decode(Gateway.ErrorBody.self, from: Data(buffer: bytes))
            let message = failure?.message ?? failure?.error ?? String(buffer: bytes)
            if message.contains("lease not found") { throw .leaseNotFound(Self.leaseID(in: request)) }
            throw .rejected("\(path) answered \(response.status.code): \(message)")
        }
        do {
            return (try JSONDecoder().decode(Answer.self, from: Data(buffer: bytes)), endpoint)
        } catch {
            throw .badAnswer("\(path): \(error)")
        }
    }

    /// Turns etcd's authentication on, with `root` (role root) holding this client's password,
    /// unless it is on already: what `zonal up` does once for the etcd members it runs itself.
    /// Safe to repeat, also after an attempt that stopped half-way.
    public func enableAuthentication() async throws(CoordinatorError) {
        guard let credentials, credentials.user == CoordinatorServer.user else {
            throw .rejected("enabling etcd's authentication needs the credentials of user \(CoordinatorServer.user)")
        }
        if try await authenticate(credentials, deadline: .now() + .nanoseconds(requestTimeout.nanoseconds)) != nil { return }
        let user = Gateway.AuthUserRequest(name: credentials.user, password: credentials.password)
        do {
            let _: Gateway.AuthResponse = try await call("/v3/auth/user/add", user)
        } catch .rejected(let reason) where reason.contains("already exists") {
            let _: Gateway.AuthResponse = try await call("/v3/auth/user/changepw", user)
        }
        let _: Gateway.AuthResponse = try await call("/v3/auth/user/grant", Gateway.AuthGrantRoleRequest(user: credentials.user, role: "root"))
        let _: Gateway.AuthResponse = try await call("/v3/auth/enable", Gateway.AuthEnableRequest())
    }

    /// Sends a call with the auth token; a refused token (401), or a missing one after etcd
    /// turned authentication on (400), is traded for a new one once.
    private func send(_ path: String, body: Data, deadline: NIODeadline) async throws(CoordinatorError) -> (response: HTTPClientResponse, endpoint: String) {
        guard let credentials else { return try await sendOnce(path, body: body, deadline: deadline, token: nil) }
        let token: String?
        switch login.withLock({ $0 }) {
        case .token(let known): token = known
        case .authenticationOff: token = nil
        case .none: token = try await authenticate(credentials, deadline: deadline)
        }
        let first = try await sendOnce(path, body: body, deadline: deadline, token: token)
        guard first.response.status == .unauthorized || (token == nil && first.response.status == .badRequest) else { return first }
        _ = try? await first.response.body.collect(upTo: 1 << 16)
        return try await sendOnce(path, body: body, deadline: deadline, token: try await authenticate(credentials, deadline: deadline))
    }

    /// Trades the credentials for an auth token, as etcd's `auth/authenticate` does; nil while
    /// etcd's authentication is off.
    private func authenticate(_ credentials: Credentials, deadline: NIODeadline) async throws(CoordinatorError) -> String? {
        let body: Data
        do { body = try JSONEncoder().encode(Gateway.AuthenticateRequest(name: credentials.user, password: credentials.password)) } catch {
            throw .badAnswer("cannot encode request: \(error)")
        }
        let (response, endpoint) = try await sendOnce("/v3/auth/authenticate", body: body, deadline: deadline, token: nil)
        let bytes: ByteBuffer
        do { bytes = try await response.body.collect(upTo: 1 << 16) } catch { throw .unreachable(endpoints: [endpoint], reason: "\(error)") }
        if response.status == .preconditionFailed, String(buffer: bytes).contains(Gateway.authenticationNotEnabled) {
            login.withLock { $0 = .authenticationOff }
            return nil
        }
        guard response.status == .ok, let token = (try? JSONDecoder().decode(Gateway.AuthenticateResponse.self, from: Data(buffer: bytes)))?.token else {
            throw .rejected("\(endpoint) refused user \(credentials.user): \(String(buffer: bytes).prefix(200))")
        }
        login.withLock { $0 = .token(token) }
        return token
    }

    private func sendOnce(_ path: String, body: Data, deadline: NIODeadline, token: String?) async throws(CoordinatorError) -> (
        response: HTTPClientResponse, endpoint: String
    ) {
        var reasons: [String] = []
        for index in rotation.withLock({ $0.order(at: clock.now) }) {
            var request = HTTPClientRequest(url: endpoints[index] + path)
            request.method = .POST
            request.tlsConfiguration = tls
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: token) }
            request.body = .bytes(ByteBuffer(data: body))
            do {
                let response = try await HTTPClient.zonal.execute(request, deadline: deadline)
                rotation.withLock { $0.succeeded(index) }
                return (response, endpoints[index])
            } catch {
                if Task.isCancelled { throw .unreachable(endpoints: endpoints, reason: "cancelled") }
                rotation.withLock { $0.failed(index, at: clock.now) }
                reasons.append("\(endpoints[index]): \(error)")
            }
        }
        throw .unreachable(endpoints: endpoints, reason: reasons.joined(separator: "; "))
    }

    private static func leaseID(in request: some Encodable) -> LeaseID {
        LeaseID(rawValue: (request as? Gateway.LeaseIDRequest)?.ID.value ?? 0)
    }
}
