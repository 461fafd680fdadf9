import Testing

@testable import ZonalCore

@Suite("Database sections of topology files")
struct DatabaseTopologyTests {
    let errors = TopologyErrorTests()

    /// A postgres service on both nodes (line 11 on), its `database` lines last.
    func database(_ settings: String, nodes: String = "[a1, b1]", adminPort: String = "admin_port: 8008") -> String {
        errors.withServices(
            """
              - name: db
                kind: postgres
                nodes: \(nodes)
                port: 5432
                \(adminPort)
                database:
            \(settings)
            """)
    }

    @Test("editions set the defaults; every key is read")
    func settings() throws {
        let topology = try TopologyLoader.parse(
            database(
                """
                      edition: enterprise
                      ttl: 5s
                      loop_wait: 500ms
                      maximum_lag_on_failover: 4096
                      nofailover: [b1]
                      parameters: { shared_buffers: "'256MB'", max_connections: 200 }
                """, nodes: "[a1, b1, a1]"
            ).replacingOccurrences(of: "nodes: [a1, b1, a1]", with: "zones: [east-a, east-b, west-a]")
                .replacingOccurrences(
                    of: "  - { name: b1, zone: east-b, address: 127.0.0.2 }",
                    with: "  - { name: b1, zone: east-b, address: 127.0.0.2 }\n  - { name: c1, zone: west-a, address: 127.0.0.3 }"))
        guard case .postgres(let spec) = try #require(topology.services.first).kind else {
            Issue.record("not a postgres service")
            return
        }
        #expect(spec.edition == .enterprise)
        #expect(spec.failover.synchronousMode == .strict && spec.failover.synchronousStandbys == 2)
        #expect(spec.failover.ttl == .seconds(5) && spec.failover.loopWait == .milliseconds(500) && spec.failover.fenceMargin == .milliseconds(500))
        #expect(spec.failover.maximumLagOnFailover == 4096)
        #expect(spec.noFailover == ["b1"])
        #expect(spec.parameters == ["shared_buffers": "'256MB'", "max_connections": "200"])
        #expect(DatabaseSpec(edition: .ha).failover.synchronousMode == .off)
    }

    @Test func basicOnTwoNodes() {
        errors.expectProblem(database("      edition: basic"), line: 17, "edition `basic` of service db runs on exactly one node; it is placed on 2")
    }

    @Test func missingAdminPort() {
        errors.expectProblem(database("      edition: ha", adminPort: ""), line: 11, "needs an `admin_port`")
    }

    @Test func unknownEdition() {
        errors.expectProblem(
            database("      edition: premium"), line: 17, "unknown edition `premium` of service db; use one of: basic, ha, cluster, enterprise")
    }

    @Test func tooManySynchronousStandbys() {
        errors.expectProblem(
            database("      synchronous_mode: on\n      synchronous_standbys: 2"), line: 18,
            "waits for 2 synchronous standbys but has only 1 nodes besides the primary")
    }

    @Test func loopWaitNotShorterThanTTL() {
        errors.expectProblem(database("      ttl: 2s\n      loop_wait: 2s"), line: 18, "`loop_wait` (2s) of service db must be shorter than `ttl` (2s)")
    }

    @Test func noFailoverOfAStranger() {
        errors.expectProblem(database("      nofailover: [zz]"), line: 17, "`nofailover` of service db names zz, which carries no instance of it")
    }

    @Test func databaseSettingsOnAnApp() {
        errors.expectProblem(
            errors.withServices("  - { name: web, kind: app, nodes: [a1], port: 80, database: { edition: ha } }"), line: 11,
            "`database` settings are only for services of kind `postgres`")
    }

    @Test("a role is only for pools of a postgres service, behind tcp listeners")
    func roles() {
        errors.expectProblem(
            errors.withServices(
                """
                  - { name: web, kind: app, nodes: [a1], port: 80 }
                  - name: lb
                    kind: balancer
                    nodes: [b1]
                    port: 5000
                    balancer:
                      listeners: [{ name: w, port: 5000, mode: tcp, pool: p }]
                      pools: [{ name: p, service: web, role: primary }]
                """), line: 18, "`role` of pool p of service lb is for pools whose `service` is of kind postgres")
        errors.expectProblem(
            errors.withServices(
                """
                  - { name: db, kind: postgres, nodes: [a1, b1], port: 5432, admin_port: 8008 }
                  - name: lb
                    kind: balancer
                    nodes: [b1]
                    port: 5000
                    balancer:
                      listeners: [{ name: w, port: 5000, pool: p }]
                      pools: [{ name: p, service: db, role: primary }]
                """), line: 17, "listener w of service lb carries PostgreSQL connections (pool p has a `role`) and needs `mode: tcp`")
    }
}
