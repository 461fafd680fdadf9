import Testing

@testable import ZonalCore

@Suite("Balancer sections of topology files")
struct BalancerTopologyTests {
    let errors = TopologyErrorTests()

    /// A web service and the head of a balancer in front of it; `balancer` lines follow (line 23 on).
    static func topology(_ balancer: String) -> String {
        TopologyErrorTests.header + """

            services:
              - name: web
                kind: app
                zones: [east-a, east-b]
                port: 8080
                primary_zone: east-a
                secondary_zone: east-b
              - name: lb
                kind: balancer
                nodes: [a1]
                port: 8000
                admin_port: 9000
                balancer:
            \(balancer)
            """
    }

    @Test("a pool naming a service takes its instances, zones and health check; listeners default to `port`")
    func poolFromService() throws {
        let topology = try TopologyLoader.parse(
            Self.topology(
                """
                      pools:
                        - { name: web, service: web, persistence: cookie }
                        - name: static
                          servers: [{ address: 127.0.0.9, port: 9999, zone: west-a, weight: 3 }]
                          scheduling: least_connections
                          persistence: { kind: source_ip, timeout: 30m }
                      http: { header_timeout: 5s, max_body_size: 1048576 }
                """))
        guard case .balancer(let spec) = try #require(topology.services.last).kind else {
            Issue.record("lb is not a balancer")
            return
        }
        #expect(spec.listeners == [BalancerSpec.Listener(name: "http", port: 8000, mode: .http, pool: "web")])
        #expect(spec.pools[0].service == "web" && spec.pools[0].persistence.kind == .cookie && spec.pools[0].persistence.timeout == .seconds(1000))
        #expect(spec.pools[1].servers == [BalancerSpec.Server(address: "127.0.0.9", port: 9999, zone: "west-a", weight: 3)])
        #expect(spec.pools[1].scheduling == .leastConnections && spec.pools[1].persistence.timeout == .seconds(1800))
        #expect(spec.http.headerTimeout == .seconds(5) && spec.http.limits.maxBodyBytes == 1_048_576)
    }

    @Test func unknownPoolService() {
        errors.expectProblem(
            Self.topology(
                """
                      pools: [{ name: web, service: webb }]
                """), line: 23, "pool web of service lb uses service webb, which is not declared", "did you mean web?")
    }

    @Test func poolWithBothServiceAndServers() {
        errors.expectProblem(
            Self.topology(
                """
                      pools: [{ name: web, service: web, servers: [] }]
                """), line: 23, "needs exactly one of `service`", "or `servers`")
    }

    @Test func listenerOfUnknownPool() {
        errors.expectProblem(
            Self.topology(
                """
                      listeners: [{ name: main, port: 8000, pool: api }]
                      pools: [{ name: web, service: web }]
                """), line: 23, "listener main of service lb uses pool api, which is not declared")
    }

    @Test func cookiePersistenceOnTCP() {
        errors.expectProblem(
            Self.topology(
                """
                      listeners: [{ name: main, port: 8000, mode: tcp, pool: web }]
                      pools: [{ name: web, service: web, persistence: cookie }]
                """), line: 24, "persists by cookie, but its listener main is TCP", "use `source_ip`")
    }

    @Test func unknownModeAndScheduling() {
        let found = errors.problems(
            Self.topology(
                """
                      listeners: [{ name: main, port: 8000, mode: udp, pool: web }]
                      pools: [{ name: web, service: web, scheduling: random }]
                """))
        #expect(found.map(\.message).contains { $0.contains("unknown mode `udp`") && $0.contains("http, https, tcp") })
        #expect(found.map(\.message).contains { $0.contains("unknown scheduling `random`") && $0.contains("round_robin, least_connections, source_hash") })
    }

    @Test func listenerPortClashesWithAnotherService() {
        errors.expectProblem(
            Self.topology(
                """
                      listeners: [{ name: main, port: 8000, pool: web }, { name: other, port: 8080, pool: web }]
                      pools: [{ name: web, service: web }]
                """), line: 23, "port clash", "listener other", "web@a1")
    }

    @Test func primaryZoneWithoutServers() {
        errors.expectProblem(
            Self.topology(
                """
                      pools: [{ name: web, service: web, primary_zone: west-a }]
                """), line: 23, "`primary_zone` of pool web of service lb is west-a, but the pool has no server there")
    }

    @Test func balancerWithoutSection() {
        let yaml = Self.topology("").replacingOccurrences(of: "    balancer:\n", with: "")
        #expect(errors.problems(yaml).map(\.message).contains { $0.contains("needs a `balancer` section") })
    }

    @Test func httpsWithoutCertificate() {
        errors.expectProblem(
            Self.topology(
                """
                      listeners: [{ name: secure, port: 8000, mode: https, pool: web }]
                      pools: [{ name: web, service: web }]
                """), line: 23, "listener secure of service lb is `https` and needs `tls: { certificate: FILE, key: FILE }`")
    }

    @Test func applicationCookieWithoutName() {
        errors.expectProblem(
            Self.topology(
                """
                      pools: [{ name: web, service: web, persistence: app_cookie }]
                """), line: 23, "persists by `app_cookie` and needs `cookie`", "JSESSIONID")
    }
}
