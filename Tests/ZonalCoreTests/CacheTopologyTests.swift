import Testing

@testable import ZonalCore

/// The `redis` and `redis-proxy` kinds: their settings read with defaults, and their mistakes
/// named on their lines.
@Suite("Cache topology")
struct CacheTopologyTests {
    let errors = TopologyErrorTests()

    @Test("a redis service and its proxy read with every default")
    func defaults() throws {
        let topology = try TopologyLoader.parse(
            errors.withServices(
                """
                  - { name: cache, kind: redis, zones: [east-a, east-b], port: 6379, admin_port: 6400 }
                  - { name: px, kind: redis-proxy, zones: [east-a], port: 6390, proxy: { cache: cache } }
                """), file: "t.yaml")
        guard case .redis(let spec) = topology.services[0].kind, case .redisProxy(let proxy) = topology.services[1].kind else {
            Issue.record("wrong kinds: \(topology.services.map(\.kind.name))")
            return
        }
        #expect(spec.failover.ttl == .seconds(1))
        #expect(spec.failover.loopWait == .milliseconds(250))
        #expect(spec.appendFsync == .everysec)
        #expect(spec.sentinelPort(servicePort: 6379) == 26379)
        #expect(proxy.cache == "cache")
        #expect(proxy.waitForMaster == .seconds(2))
    }

    @Test("settings out of range or against each other are named on their lines")
    func mistakes() {
        errors.expectProblem(
            errors.withServices("  - name: c\n    kind: redis\n    zones: [east-a]\n    port: 6379\n    admin_port: 6400\n    cache: { appendfsync: never }\n"),
            line: 16, "appendfsync", "everysec")
        errors.expectProblem(
            errors.withServices(
                "  - name: c\n    kind: redis\n    zones: [east-a]\n    port: 6379\n    admin_port: 6400\n    cache: { ttl: 1s, loop_wait: 2s }\n"),
            line: 16, "loop_wait", "shorter than `ttl`")
        errors.expectProblem(
            errors.withServices(
                "  - name: c\n    kind: redis\n    zones: [east-a]\n    port: 6379\n    admin_port: 6400\n    cache: { min_replicas_to_write: 1 }\n"),
            line: 16, "could never take a write")
        errors.expectProblem(errors.withServices("  - name: c\n    kind: redis\n    zones: [east-a]\n    port: 6379\n"), line: 11, "needs an `admin_port`")
        errors.expectProblem(
            errors.withServices(
                "  - { name: web, kind: app, zones: [east-a], port: 80 }\n  - name: px\n    kind: redis-proxy\n    zones: [east-a]\n    port: 6390\n    proxy: { cache: web }\n"
            ),
            line: 16, "which is of kind `app`, not `redis`")
        errors.expectProblem(
            errors.withServices(
                "  - name: c\n    kind: redis\n    zones: [east-a]\n    port: 6379\n    admin_port: 6400\n  - { name: d, kind: app, zones: [east-a], port: 26379 }\n"
            ),
            line: 16, "port clash", "sentinel_port")
    }
}
