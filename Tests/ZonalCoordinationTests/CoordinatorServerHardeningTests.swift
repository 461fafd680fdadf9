import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import ZonalCore
import ZonalObservability
import ZonalTesting

@testable import ZonalCoordination

/// The embedded coordinator's gateway as an attacker on loopback meets it: no call without the
/// admin token, and no request body, however hostile, that does more than earn a 4xx.
@Suite("Coordinator server: credentials and hostile requests")
struct CoordinatorServerHardeningTests {
    static let token = AdminToken.generate()

    func application() throws -> (EmbeddedCoordinator, some ApplicationProtocol) {
        let coordinator = try EmbeddedCoordinator(directory: nil)
        return (coordinator, Application(router: CoordinatorServer(coordinator: coordinator, tokens: AdminTokenSource(fixed: Self.token)).router()))
    }

    @Test("every call wants the token; auth/authenticate trades root's password (the admin token) for it, as etcd does")
    func credentials() async throws {
        let (coordinator, app) = try application()
        try await app.test(.router) { client in
            for path in ["/v3/kv/put", "/v3/kv/range", "/v3/kv/txn", "/v3/kv/deleterange", "/v3/lease/grant", "/v3/watch", "/v3/maintenance/status"] {
                try await client.execute(uri: path, method: .post, body: ByteBuffer(string: #"{"key":"L2E=","value":"eA=="}"#)) { response in
                    #expect(response.status == .unauthorized, "\(path) answered \(response.status) without a token")
                }
                try await client.execute(uri: path, method: .post, headers: [.authorization: "not-the-token"], body: ByteBuffer(string: #"{"key":"L2E="}"#)) {
                    #expect($0.status == .unauthorized)
                }
            }
            #expect(await coordinator.get("/a") == nil, "nothing was written without the token")
            try await client.execute(uri: "/v3/auth/authenticate", method: .post, body: ByteBuffer(string: #"{"name":"root","password":"guess"}"#)) {
                response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("authentication failed"))
            }
            try await client.execute(
                uri: "/v3/auth/authenticate", method: .post, body: ByteBuffer(string: #"{"name":"admin","password":"\#(Self.token.secret)"}"#)
            ) {
                #expect($0.status == .badRequest)
            }
            let answer = try await client.execute(
                uri: "/v3/auth/authenticate", method: .post,
                body: ByteBuffer(string: #"{"name":"root","password":"\#(Self.token.secret)"}"#)
            ) { response in
                #expect(response.status == .ok)
                return try JSONDecoder().decode(Gateway.AuthenticateResponse.self, from: Data(buffer: response.body))
            }
            let issued = try #require(answer.token)
            try await client.execute(
                uri: "/v3/kv/put", method: .post, headers: [.authorization: issued], body: ByteBuffer(string: #"{"key":"L2E=","value":"eA=="}"#)
            ) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
        #expect(await coordinator.get("/a")?.value == Array("x".utf8))
    }

    @Test(
        "lease TTLs and revisions out of range, negative, zero or not numbers get a 400 with the reason; the server keeps serving",
        arguments: [
            (#"{"TTL":"9223372036854775807"}"#, "between 1 and 9000000000"),
            (#"{"TTL":"9000000001"}"#, "between 1 and 9000000000"),
            (#"{"TTL":"-5"}"#, "between 1 and 9000000000"),
            (#"{"TTL":"0"}"#, "between 1 and 9000000000"),
            (#"{"TTL":"-9223372036854775808"}"#, "between 1 and 9000000000"),
            (#"{"TTL":"99999999999999999999999"}"#, "not a 64-bit integer"),
            (#"{"TTL":"ten"}"#, "not a 64-bit integer"),
            (#"{"TTL":1e300}"#, "invalid request body"),
            (#"{"TTL":[]}"#, "invalid request body"),
            (#"{}"#, "invalid request body"),
        ])
    func hostileLeaseGrant(body: String, reason: String) async throws {
        let (coordinator, app) = try application()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v3/lease/grant", method: .post, headers: [.authorization: Self.token.secret], body: ByteBuffer(string: body)) {
                response in
                #expect(response.status == .badRequest, "\(body) answered \(response.status)")
                #expect(String(buffer: response.body).contains(reason), "\(String(buffer: response.body))")
            }
            try await client.execute(
                uri: "/v3/lease/grant", method: .post, headers: [.authorization: Self.token.secret], body: ByteBuffer(string: #"{"TTL":"5"}"#)
            ) {
                #expect($0.status == .ok, "the server still grants leases")
            }
        }
        #expect(await coordinator.status().revision == 0)
    }

    @Test(
        "hostile revisions and lease IDs in other calls are refused or answered, never a crash",
        arguments: [
            ("/v3/kv/compaction", #"{"revision":"9223372036854775807"}"#),
            ("/v3/kv/compaction", #"{"revision":"-9223372036854775808"}"#),
            ("/v3/lease/keepalive", #"{"ID":"-1"}"#),
            ("/v3/lease/timetolive", #"{"ID":"18446744073709551615"}"#),
            ("/v3/lease/revoke", #"{"ID":"0"}"#),
            ("/v3/kv/put", #"{"key":"L2E=","value":"eA==","lease":"9223372036854775807"}"#),
            ("/v3/kv/txn", #"{"compare":[{"target":"MOD","key":"L2E=","mod_revision":"-9223372036854775808","result":"LESS"}]}"#),
            ("/v3/kv/range", #"{"key":"not base64!"}"#),
            ("/v3/kv/range", #"{"key":"L2E=","range_end":"L2I="}"#),
        ])
    func hostileCalls(path: String, body: String) async throws {
        let (_, app) = try application()
        try await app.test(.router) { client in
            try await client.execute(uri: path, method: .post, headers: [.authorization: Self.token.secret], body: ByteBuffer(string: body)) { response in
                #expect(response.status.code < 500, "\(path) \(body) answered \(response.status)")
            }
            try await client.execute(
                uri: "/v3/kv/put", method: .post, headers: [.authorization: Self.token.secret], body: ByteBuffer(string: #"{"key":"L2E=","value":"eA=="}"#)
            ) {
                #expect($0.status == .ok)
            }
        }
    }
}

/// The embedded coordinator's own limits, whoever the client.
@Suite("Coordinator limits")
struct CoordinatorLimitTests {
    func coordinator(_ configure: (inout EmbeddedCoordinator.Limits) -> Void) throws -> EmbeddedCoordinator {
        var limits = EmbeddedCoordinator.Limits()
        configure(&limits)
        return try EmbeddedCoordinator(directory: nil, limits: limits)
    }

    @Test("values, keys and leases beyond the limits are refused with the reason; what shrinks the store still works")
    func storeLimits() async throws {
        let coordinator = try coordinator {
            $0.maxKeyValueBytes = 100
            $0.maxKeys = 3
            $0.maxLeases = 2
        }
        await #expect(throws: CoordinatorError.rejected("key /big with its value is 104 bytes, above the limit of 100")) {
            try await coordinator.put("/big", value: [UInt8](repeating: 1, count: 100), lease: nil)
        }
        await #expect(throws: CoordinatorError.self) {
            _ = try await coordinator.transaction(Transaction(compares: [], success: [.put(key: "/t", value: [UInt8](repeating: 1, count: 200), lease: nil)]))
        }
        for key in ["/a", "/b", "/c"] { try await coordinator.put(key, "x") }
        await #expect(throws: CoordinatorError.rejected("the coordinator holds 3 keys, its limit is 3")) { try await coordinator.put("/d", "x") }
        try await coordinator.put("/a", "overwriting is no new key")
        #expect(try await coordinator.delete("/a"))
        try await coordinator.put("/d", "room again")
        _ = try await coordinator.grantLease(ttl: .seconds(10))
        let second = try await coordinator.grantLease(ttl: .seconds(10))
        await #expect(throws: CoordinatorError.rejected("the coordinator holds 2 leases, its limit is 2")) {
            _ = try await coordinator.grantLease(ttl: .seconds(10))
        }
        try await coordinator.revokeLease(second.id)
        _ = try await coordinator.grantLease(ttl: .seconds(10))
        #expect(await coordinator.status().revision == 6)
    }

    @Test("a watcher that stops reading is cut off with the reason once its buffer is full; a resumed watch sees every event")
    func slowWatcher() async throws {
        let coordinator = try coordinator { $0.watchBuffer = 5 }
        let stalled = coordinator.watch(prefix: "/w/", fromRevision: 1)
        for index in 0..<20 { try await coordinator.put("/w/\(index)", "v") }
        var received: [WatchEvent] = []
        do {
            for try await event in stalled { received.append(event) }
            Issue.record("the stalled watch was never cut off")
        } catch {
            #expect("\(error)".contains("fell 5 events behind"), "\(error)")
        }
        #expect((5...6).contains(received.count), "the buffer holds 5 (one more may be in a waiting reader's hands)")
        // Resuming from the last revision read, again after each cut, misses nothing.
        var revisions = received.map(\.revision)
        var rounds = 0
        while revisions.count < 20 && rounds < 10 {
            rounds += 1
            do {
                for try await event in coordinator.watch(prefix: "/w/", fromRevision: revisions.last! + 1) {
                    revisions.append(event.revision)
                    if revisions.count == 20 { break }
                }
            } catch {
                #expect("\(error)".contains("fell 5 events behind"), "\(error)")
            }
        }
        #expect(revisions == Array(1...20))
    }
}

@Suite("Admin token file")
struct AdminTokenSourceTests {
    @Test("a server reads the token file again when it changes: rotation needs no restart; an unreadable or shared file means no token")
    func rotation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file(AdminToken.fileName)
        let source = AdminTokenSource(file: path)
        #expect(source.current == nil, "no file, no token")
        _ = try directory.writePrivate(AdminToken.fileName, "first-token\n")
        #expect(source.current == (try AdminToken(secret: "first-token")))
        _ = try directory.writePrivate(AdminToken.fileName + ".new", "second-token-longer\n")
        #expect(rename(directory.file(AdminToken.fileName + ".new"), path) == 0)
        #expect(source.current == (try AdminToken(secret: "second-token-longer")))
        chmod(path, 0o644)
        #expect(source.current == nil, "a token file others can read counts as none: every request is refused")
        unlink(path)
        #expect(source.current == nil)
    }
}
