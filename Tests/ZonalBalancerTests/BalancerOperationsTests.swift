import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalTesting

@testable import ZonalBalancer

@Suite("Balancer operations")
struct BalancerOperationsTests {
    static let yaml = """
        name: ops
        regions: [{ name: east, zones: [east-a, east-b] }]
        nodes:
          - { name: a1, zone: east-a, address: 127.0.0.1 }
          - { name: b1, zone: east-b, address: 127.0.0.2 }
        services:
          - { name: web, kind: app, zones: [east-a, east-b], port: 8080, primary_zone: east-a, secondary_zone: east-b }
          - name: lb
            kind: balancer
            nodes: [a1]
            port: 8000
            admin_port: 9000
            balancer:
              pools: [{ name: web, service: web, retries: 1 }]
        """

    func balancer(token: String? = nil, reloaded: @escaping @Sendable () throws -> BalancerPlan = { throw BalancerPlanError("no file") }) throws -> Balancer {
        let plan = try BalancerPlan(topology: try TopologyLoader.parse(Self.yaml), service: "lb", node: "a1")
        #expect(plan.pools[0].backends.map(\.id) == ["web@a1", "web@b1"])
        #expect(plan.pools[0].primaryZone == "east-a" && plan.pools[0].secondaryZone == "east-b", "zones come from the service")
        return try Balancer(plan: plan, coordinator: nil, logger: Logger(label: "test.ops"), reloadPlan: reloaded)
    }

    @Test("the admin API lists pools, sets weights, adds and removes servers, and refuses bad input specifically")
    func adminAPI() async throws {
        let balancer = try balancer()
        let app = Application(router: BalancerAdminAPI(balancer: balancer, tokens: AdminTokenSource(fixed: try AdminToken(secret: "s3cret"))).router())
        try await app.test(.router) { unauthenticated in
            let client = AuthorizingClient(client: unauthenticated, authorization: "Bearer s3cret")
            try await client.execute(uri: "/pools", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""id" : "web@a1""#))
            }
            try await client.execute(uri: "/pools/web/servers/web@b1/weight", method: .put, body: ByteBuffer(string: #"{"weight": 0}"#)) {
                #expect($0.status == .ok)
            }
            #expect(balancer.pools["web"]?.plan.backends.first { $0.id == "web@b1" }?.weight == 0)
            try await client.execute(
                uri: "/pools/web/servers", method: .post,
                body: ByteBuffer(string: #"{"name": "extra", "address": "127.0.0.9", "port": 8081, "zone": "east-a", "weight": 3}"#)
            ) {
                #expect($0.status == .ok)
            }
            #expect(balancer.pools["web"]?.plan.backends.last == Backend(id: "extra", host: "127.0.0.9", port: 8081, zone: "east-a", weight: 3))
            try await client.execute(
                uri: "/pools/web/servers", method: .post,
                body: ByteBuffer(string: #"{"name": "extra", "address": "127.0.0.9", "port": 8081, "zone": "east-a"}"#)
            ) {
                #expect($0.status == .conflict)
            }
            try await client.execute(uri: "/pools/web/servers/extra", method: .delete) { #expect($0.status == .ok) }
            try await client.execute(uri: "/pools/web/servers/extra", method: .delete) { response in
                #expect(response.status == .notFound && String(buffer: response.body).contains("pool web has no server extra"))
            }
            try await client.execute(uri: "/pools/web/servers/web@a1/weight", method: .put, body: ByteBuffer(string: #"{"weight": -1}"#)) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("weight must be between 0 and 1000"))
            }
            try await client.execute(uri: "/pools/web/servers/web@a1/weight", method: .put, body: ByteBuffer(string: "heavy")) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("invalid JSON body"))
            }
            try await client.execute(uri: "/pools/nope", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/reload", method: .post) { response in
                #expect(response.status == .unprocessableContent && String(buffer: response.body).contains("the running configuration stays"))
            }
        }
    }

    @Test("every admin operation needs the token; without one configured, all are refused; health stays open, metrics only for loopback peers")
    func token() async throws {
        let app = Application(router: BalancerAdminAPI(balancer: try balancer(), tokens: AdminTokenSource(fixed: try AdminToken(secret: "s3cret"))).router())
        try await app.test(.router) { client in
            for (uri, method) in [
                ("/pools", HTTPRequest.Method.get), ("/pools/web/servers/web@a1/weight", .put), ("/pools/web/servers", .post),
                ("/pools/web/servers/web@a1", .delete), ("/reload", .post),
            ] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .unauthorized, "\(method) \(uri)")
                    #expect(String(buffer: response.body).contains("needs Authorization: Bearer"))
                }
                try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer s3cre"]) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer s3cret-and-more"]) { #expect($0.status == .unauthorized) }
            }
            try await client.execute(uri: "/pools", method: .get, headers: [.authorization: "Bearer s3cret"]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            // The router test client has no peer address, which is not loopback.
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret"]) { #expect($0.status == .ok) }
        }
        let unconfigured = Application(router: BalancerAdminAPI(balancer: try balancer(), tokens: AdminTokenSource(fixed: nil)).router())
        try await unconfigured.test(.router) { client in
            try await client.execute(uri: "/pools", method: .get, headers: [.authorization: "Bearer anything"]) { response in
                #expect(response.status == .unauthorized && String(buffer: response.body).contains("no admin token is configured"))
            }
        }
    }

    @Test("a reload applies pool changes in place and keeps what servers that stay have learned")
    func reload() async throws {
        let edited = Self.yaml.replacingOccurrences(of: "retries: 1", with: "retries: 1, scheduling: least_connections")
        let balancer = try balancer { try BalancerPlan(topology: try TopologyLoader.parse(edited), service: "lb", node: "a1") }
        let pool = try #require(balancer.pools["web"])
        pool.setHealth("web@a1", .unhealthy)
        let report = try await balancer.reload()
        #expect(report.reconfigured == ["web"] && report.notApplied.isEmpty)
        #expect(pool.plan.scheduling == .leastConnections)
        #expect(pool.snapshot().servers.first { $0.id == "web@a1" }?.health == .unhealthy, "health survives a reload")
        #expect(pool.servingZone == "east-b")
    }

    @Test("source-address persistence is shared through the coordinator: another instance sends the client to the same server")
    func sharedAffinity() async throws {
        let coordinator = try EmbeddedCoordinator(directory: nil)
        let configuration = PoolPlan(
            name: "p", backends: (1...6).map { Backend(id: "s\($0)", host: "127.0.0.\($0)", port: 80, zone: "z") },
            persistence: .sourceAddress(timeout: .seconds(1000)))
        let prefix = "/zonal/t/balancer/lb/p/affinity/"
        let (first, firstSharing) = sharingPool(configuration, coordinator: coordinator, prefix: prefix)
        let (second, secondSharing) = sharingPool(configuration, coordinator: coordinator, prefix: prefix)
        let tasks = [Task { await firstSharing.run() }, Task { await secondSharing.run() }]
        defer { tasks.forEach { $0.cancel() } }
        var placed: [String: String] = [:]
        for client in (1...12).map({ "10.0.0.\($0)" }) {
            placed[client] = first.choose(client: client)?.id
        }
        // Generous: in CI this suite shares two cores (and their cooperative threads) with ~200
        // tests at once; what is checked is that the placements arrive, not how soon.
        let learned = await poll(timeout: .seconds(30)) {
            placed.allSatisfy { client, server in second.persistedServer(for: client) == server }
        }
        #expect(learned != nil, "the second instance did not adopt the first one's placements")
        for (client, server) in placed { #expect(second.choose(client: client)?.id == server) }
        #expect(Set(placed.values).count > 1, "round robin spreads new clients")
        #expect(try await coordinator.range(prefix: prefix).keyValues.count == 12)
    }

    func sharingPool(_ configuration: PoolPlan, coordinator: any Coordinator, prefix: String) -> (BackendPool, AffinitySharing) {
        let holder = SharingHolder()
        let pool = BackendPool(
            plan: configuration,
            onAffinity: { _, client, server in
                holder.sharing.withLock { $0 }?.publish(client: client, server: server)
            })
        let sharing = AffinitySharing(coordinator: coordinator, prefix: prefix, pool: pool, timeout: .seconds(1000), logger: Logger(label: "test.share"))
        holder.sharing.withLock { $0 = sharing }
        return (pool, sharing)
    }
}

/// Lets a pool's callback reach the sharing made after it.
final class SharingHolder: Sendable {
    let sharing = Mutex<AffinitySharing?>(nil)
}

/// A test client that presents an `Authorization` header with every request, as `zonal`
/// commands do with the admin token.
struct AuthorizingClient: TestClientProtocol {
    let client: any TestClientProtocol
    let authorization: String

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = headers
        headers[.authorization] = authorization
        return try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    var port: Int? { client.port }
}
