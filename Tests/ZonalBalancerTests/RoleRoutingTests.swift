import Logging
import Testing
import ZonalCoordination
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

@Suite("Pools of replicated services")
struct RoleRoutingTests {
    func pool() -> BackendPool {
        BackendPool(
            plan: PoolPlan(
                name: "db",
                backends: ["a", "b", "c"].map {
                    Backend(id: "db@\($0)", host: "127.0.0.1", port: 5432, zone: $0, weight: 1)
                }))
    }

    func healthy(_ pool: BackendPool) -> Set<String> {
        Set(pool.snapshot().servers.filter { $0.health == .healthy }.map { RoleRouting.node(of: $0.id) })
    }

    @Test("the write and read pools follow the roles the agents publish, through a handover with two primaries")
    func followsPublishedRoles() async throws {
        let coordinator = try EmbeddedCoordinator(directory: nil)
        let directory = ServiceRoleDirectory(coordinator: coordinator, service: "db")
        let writes = pool()
        let reads = pool()
        let routing = [
            RoleRouting(pool: writes, directory: directory, role: .primary, logger: Logger(label: "test")),
            RoleRouting(pool: reads, directory: directory, role: .replica, logger: Logger(label: "test")),
        ]
        let tasks = routing.map { routing in Task { await routing.run() } }
        defer { for task in tasks { task.cancel() } }
        let lease = try await coordinator.grantLease(ttl: .seconds(30))

        #expect(healthy(writes).isEmpty, "nothing takes writes before a role is known")
        try await directory.publish(.primary, node: "a", lease: lease.id)
        try await directory.publish(.replica, node: "b", lease: lease.id)
        #expect(await poll(timeout: .seconds(5)) { healthy(writes) == ["a"] && healthy(reads) == ["b"] } != nil)

        // The new primary publishes before the old one withdraws: no server takes writes.
        try await directory.publish(.primary, node: "b", lease: lease.id)
        #expect(
            await poll(timeout: .seconds(5)) { healthy(writes).isEmpty && healthy(reads) == [] } != nil,
            "writes \(healthy(writes)), reads \(healthy(reads))")
        try await directory.publish(nil, node: "a", lease: lease.id)
        #expect(await poll(timeout: .seconds(5)) { healthy(writes) == ["b"] && healthy(reads) == ["b"] } != nil)

        // A damaged value counts as no role; the others keep theirs.
        try await coordinator.put(directory.prefix + "c", value: Array("leader".utf8), lease: nil)
        try await directory.publish(.replica, node: "a", lease: lease.id)
        #expect(await poll(timeout: .seconds(5)) { healthy(writes) == ["b"] && healthy(reads) == ["a"] } != nil)
    }

    @Test("servers of a service's pool are named service@node")
    func nodeNames() {
        #expect(RoleRouting.node(of: "db@east-a-1") == "east-a-1")
        #expect(RoleRouting.node(of: "plain") == "plain")
    }
}
