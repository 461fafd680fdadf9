import Testing
import ZonalCoordination
import ZonalCore
import ZonalTesting

@testable import ZonalDatabase

@Suite("Switchover protocol")
struct SwitchoverTests {
    func member(_ name: String, _ role: MemberStatus.Role, upstream: String? = nil) -> MemberStatus {
        MemberStatus(name: name, zone: "z", role: role, position: nil, upstream: upstream, postgresAddress: "", apiAddress: "")
    }

    /// a leads, b streams from it.
    func cluster() async throws -> (ClusterStore, LeaseID) {
        let store = ClusterStore(coordinator: try EmbeddedCoordinator(directory: nil), service: "db")
        let lease = try await store.coordinator.grantLease(ttl: .seconds(60)).id
        try await store.publish(member("a", .primary), lease: lease)
        try await store.publish(member("b", .standby, upstream: "a"), lease: lease)
        #expect(try await store.acquireLeadership(node: "a", lease: lease))
        return (store, lease)
    }

    @Test("a switchover that could lose commits does not start, and says why")
    func refusals() {
        let view = DatabaseHA.ClusterView(
            leader: "a", initialized: true, members: [member("a", .primary), member("b", .standby, upstream: "a"), member("c", .standby)])
        let nodes = ["a", "b", "c"]
        #expect(Switchover.refusal(target: "b", nodes: nodes, service: "db", view: view) == nil)
        #expect(Switchover.refusal(target: "x", nodes: nodes, service: "db", view: view)?.contains("not a node of db") == true)
        #expect(Switchover.refusal(target: "a", nodes: nodes, service: "db", view: view)?.contains("already the primary") == true)
        #expect(Switchover.refusal(target: "c", nodes: nodes, service: "db", view: view)?.contains("does not stream from a") == true)
        var leaderless = view
        leaderless.leader = nil
        #expect(Switchover.refusal(target: "b", nodes: nodes, service: "db", view: leaderless)?.contains("no primary") == true)
    }

    @Test("the switchover ends as soon as the target holds the leader key and runs as primary")
    func finishes() async throws {
        let (store, lease) = try await cluster()
        let running = Task { try await Switchover(store: store, clock: VirtualClock()).run(to: "b", nodes: ["a", "b"], service: "db", timeout: .seconds(30)) }
        // The agents' part: a steps down once asked, b takes the key and promotes.
        #expect(await poll(timeout: .seconds(5)) { (try? await store.read().view.switchover) != nil } != nil)
        try await store.releaseLeadership(node: "a")
        #expect(try await store.acquireLeadership(node: "b", lease: lease))
        try await store.publish(member("a", .standby, upstream: "b"), lease: lease)
        try await store.publish(member("b", .primary), lease: lease)
        let outcome = try await running.value
        #expect(outcome.from == "a" && outcome.to == "b")
        #expect(try await store.read().view.switchover == nil, "the request is withdrawn")
    }

    @Test("a switchover nobody carries out ends at its timeout on the clock, withdrawn, with the primary named")
    func timesOut() async throws {
        let (store, _) = try await cluster()
        let clock = VirtualClock()
        let running = Task { try await Switchover(store: store, clock: clock).run(to: "b", nodes: ["a", "b"], service: "db", timeout: .seconds(30)) }
        #expect(await poll(timeout: .seconds(5)) { (try? await store.read().view.switchover) != nil && clock.sleeperCount > 0 } != nil)
        clock.advance(by: .seconds(29))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await store.read().view.switchover != nil, "still waiting before the timeout")
        clock.advance(by: .seconds(2))
        await #expect { try await running.value } throws: { "\($0)".contains("did not finish within 30s") && "\($0)".contains("a stays the primary") }
        #expect(try await store.read().view.switchover == nil)
    }
}
