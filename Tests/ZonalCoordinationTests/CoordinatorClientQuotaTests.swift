import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import ZonalCore
import ZonalObservability

@testable import ZonalCoordination

/// One client with the token cannot take the store's keys or leases from the others: every
/// login is a client of its own, with limits of its own.
@Suite("Coordinator server: per-client limits")
struct CoordinatorClientQuotaTests {
    static let token = AdminToken.generate()

    struct Gateway {
        let client: any TestClientProtocol

        func login() async throws -> String {
            try await client.execute(
                uri: "/v3/auth/authenticate", method: .post,
                body: ByteBuffer(string: #"{"name":"root","password":"\#(CoordinatorClientQuotaTests.token.secret)"}"#)
            ) { response in
                try #require(response.status == .ok)
                return try #require(String(buffer: response.body).split(separator: "\"").drop { $0 != "token" }.dropFirst(2).first.map(String.init))
            }
        }

        /// Status and body of a POST with `token`.
        func post(_ path: String, _ body: String, as token: String) async throws -> (HTTPResponse.Status, String) {
            try await client.execute(uri: path, method: .post, headers: [.authorization: token], body: ByteBuffer(string: body)) {
                ($0.status, String(buffer: $0.body))
            }
        }

        func grant(as token: String) async throws -> (HTTPResponse.Status, String) {
            try await post("/v3/lease/grant", #"{"TTL":"60"}"#, as: token)
        }

        func put(_ key: String, as token: String) async throws -> (HTTPResponse.Status, String) {
            try await post("/v3/kv/put", #"{"key":"\#(Data(key.utf8).base64EncodedString())","value":"eA=="}"#, as: token)
        }
    }

    func application(leases: Int, keys: Int) throws -> (EmbeddedCoordinator, some ApplicationProtocol) {
        var quotas = ClientQuotas.Limits()
        quotas.leasesPerClient = leases
        quotas.keysPerClient = keys
        let coordinator = try EmbeddedCoordinator(directory: nil)
        let server = CoordinatorServer(coordinator: coordinator, tokens: AdminTokenSource(fixed: Self.token), quotas: quotas)
        return (coordinator, Application(router: server.router()))
    }

    @Test(
        "each login gets a token of its own; a client at its lease limit is refused with the reason while another is not; revoked or expired leases make room")
    func leasesPerClient() async throws {
        let (coordinator, app) = try application(leases: 3, keys: 100)
        try await app.test(.router) { client in
            let gateway = Gateway(client: client)
            let first = try await gateway.login()
            let second = try await gateway.login()
            #expect(first != second && !first.contains(Self.token.secret))
            var granted: [Int64] = []
            for _ in 0..<3 {
                let (status, body) = try await gateway.grant(as: first)
                #expect(status == .ok, "\(body)")
                granted.append(try JSONDecoder().decode(ZonalCoordination.Gateway.LeaseGrantResponse.self, from: Data(body.utf8)).ID?.value ?? 0)
            }
            let (refused, reason) = try await gateway.grant(as: first)
            #expect(refused == .badRequest && reason.contains("this client holds 3 leases, the limit per client"), "\(refused) \(reason)")
            #expect(try await gateway.grant(as: second).0 == .ok, "another client is not refused")
            #expect(try await gateway.grant(as: Self.token.secret).0 == .ok, "nor is the admin token itself")

            // Revoked through the server: room at once.
            #expect(try await gateway.post("/v3/lease/revoke", #"{"ID":"\#(granted[0])"}"#, as: first).0 == .ok)
            #expect(try await gateway.grant(as: first).0 == .ok)
            #expect(try await gateway.grant(as: first).0 == .badRequest)
            // Gone without the server seeing it (as an expired lease is): found when rechecked.
            try await coordinator.revokeLease(LeaseID(rawValue: granted[1]))
            #expect(try await gateway.grant(as: first).0 == .ok)
        }
    }

    @Test("a client at its key limit cannot create another key but may overwrite its own, in puts and in transactions; keys deleted by anyone make room")
    func keysPerClient() async throws {
        let (coordinator, app) = try application(leases: 10, keys: 3)
        try await app.test(.router) { client in
            let gateway = Gateway(client: client)
            let first = try await gateway.login()
            let second = try await gateway.login()
            for key in ["/a", "/b", "/c"] { #expect(try await gateway.put(key, as: first).0 == .ok) }
            let (refused, reason) = try await gateway.put("/d", as: first)
            #expect(refused == .badRequest && reason.contains("this client has written 3 keys that still exist, the limit per client is 3"), "\(reason)")
            #expect(try await gateway.put("/a", as: first).0 == .ok, "overwriting its own key is no new key")
            let transaction = #"{"success":[{"request_put":{"key":"\#(Data("/t".utf8).base64EncodedString())","value":"eA=="}}]}"#
            #expect(try await gateway.post("/v3/kv/txn", transaction, as: first).0 == .badRequest)
            #expect(try await gateway.put("/d", as: second).0 == .ok)
            let written = await coordinator.get("/d")
            let refusedInTransaction = await coordinator.get("/t")
            #expect(written != nil && refusedInTransaction == nil)

            // Deleted by itself: room at once; deleted by another client: found when rechecked.
            #expect(try await gateway.post("/v3/kv/deleterange", #"{"key":"\#(Data("/a".utf8).base64EncodedString())"}"#, as: first).0 == .ok)
            #expect(try await gateway.post("/v3/kv/txn", transaction, as: first).0 == .ok)
            #expect(try await gateway.post("/v3/kv/deleterange", #"{"key":"\#(Data("/b".utf8).base64EncodedString())"}"#, as: second).0 == .ok)
            #expect(try await gateway.put("/e", as: first).0 == .ok)
        }
    }

    @Test("a session ends when the admin token it was opened under is replaced, and the longest unused is closed when too many are open")
    func sessions() {
        let clients = CoordinatorClients(maximumSessions: 2)
        let admin = AdminToken.generate()
        let first = clients.login(under: admin)
        let second = clients.login(under: admin)
        #expect(clients.client(presenting: Substring(first), admin: admin) != nil)
        #expect(clients.client(presenting: Substring(first), admin: AdminToken.generate()) == nil, "another admin token ends the session")
        let wrongLast: Character = first.last == "0" ? "1" : "0"
        #expect(clients.client(presenting: Substring(first.dropLast()) + String(wrongLast), admin: admin) == nil, "a wrong secret is refused")
        #expect(clients.client(presenting: Substring(admin.secret), admin: admin) == CoordinatorClients.admin)
        _ = clients.login(under: admin)  // `second` is now the longest unused
        #expect(clients.sessionCount == 2)
        #expect(clients.client(presenting: Substring(second), admin: admin) == nil)
        #expect(clients.client(presenting: Substring(first), admin: admin) != nil)
    }

    @Test("the names remembered for all clients stay bounded: past the limit every client's are checked against the store")
    func trackedNamesBounded() throws {
        var limits = ClientQuotas.Limits()
        limits.trackedNames = 3
        var quotas = ClientQuotas(limits: limits)
        try quotas.admitKeys(["/a", "/b"], for: "one", stillHeld: nil)
        quotas.granted(LeaseID(rawValue: 7), to: "two")
        #expect(!quotas.needsPruning)
        try quotas.admitKeys(["/c"], for: "two", stillHeld: nil)
        #expect(quotas.needsPruning)
        #expect(quotas.allHoldings == .init(leases: [LeaseID(rawValue: 7)], keys: ["/a", "/b", "/c"]))
        quotas.prune(keeping: ["/b"], leases: [])
        #expect(!quotas.needsPruning)
        #expect(quotas.holdings == ["one": .init(leases: [], keys: ["/b"])])
        quotas.forget("one")
        #expect(quotas.holdings.isEmpty)
    }
}
