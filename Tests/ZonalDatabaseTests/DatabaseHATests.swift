import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalDatabase

@Suite("Database HA decisions")
struct DatabaseHATests {
    var settings = DatabaseHA.Settings()

    func run(_ simulation: inout DatabaseClusterSimulation, for duration: Duration) {
        let end = simulation.now + duration
        while simulation.now < end { simulation.step() }
    }

    func standbys(_ simulation: DatabaseClusterSimulation, following leader: String) -> [String] {
        simulation.nodes.compactMap { node in
            if case .standby(_, leader?) = node.server { return node.name }
            return nil
        }
    }

    @Test("a pair bootstraps, fails over within the lease after the primary dies, and the old primary rejoins")
    func failoverAndRejoin() throws {
        var simulation = DatabaseClusterSimulation(nodes: ["a", "b"], settings: settings, seed: 1)
        run(&simulation, for: .seconds(5))
        let first = try #require(simulation.healthyLeader)
        let other = first == "a" ? "b" : "a"
        #expect(standbys(simulation, following: first) == [other])

        let crashedAt = simulation.now
        simulation.crash(simulation.nodes.firstIndex { $0.name == first }!)
        while simulation.healthyLeader == nil, simulation.now < crashedAt + .seconds(30) { simulation.step() }
        #expect(simulation.healthyLeader == other)
        // Lease expiry (at most the TTL) plus one decision cycle.
        #expect(simulation.now - crashedAt <= settings.ttl + settings.loopWait)

        simulation.restart(simulation.nodes.firstIndex { $0.name == first }!)
        run(&simulation, for: .seconds(5))
        #expect(simulation.healthyLeader == other)
        #expect(standbys(simulation, following: other) == [first])
        #expect(simulation.violations.isEmpty, "\(simulation.violations)")
    }

    @Test("a primary cut from the coordinator stops before its lease can expire; the standby takes over")
    func fencing() throws {
        var simulation = DatabaseClusterSimulation(nodes: ["a", "b"], settings: settings, seed: 2)
        run(&simulation, for: .seconds(5))
        let first = try #require(simulation.healthyLeader)
        let index = simulation.nodes.firstIndex { $0.name == first }!
        simulation.nodes[index].partitioned = true
        run(&simulation, for: .seconds(10))
        guard case .stopped(_, wasPrimary: true) = simulation.nodes[index].server else {
            Issue.record("the partitioned primary still runs: \(simulation.nodes[index].server)")
            return
        }
        #expect(simulation.healthyLeader != nil && simulation.healthyLeader != first)
        #expect(simulation.log.contains { $0.contains("\(first): fence: lease not renewed") })
        simulation.nodes[index].partitioned = false
        run(&simulation, for: .seconds(5))
        #expect(standbys(simulation, following: simulation.healthyLeader!) == [first])
        #expect(simulation.violations.isEmpty, "\(simulation.violations)")
    }

    @Test("a standby lagging more than maximum_lag_on_failover is not promoted")
    func laggingStandbyStaysStandby() {
        let core = DatabaseHA(node: "b", settings: settings)
        let behind = WALPosition(timeline: 1, lsn: LogSequenceNumber(10 << 20))
        let cluster = DatabaseHA.ClusterView(
            leader: nil, initialized: true,
            members: [member("b", .standby, behind)],
            leaderPosition: LeaderPosition(name: "a", position: WALPosition(timeline: 1, lsn: LogSequenceNumber(12 << 20))))
        let decision = core.decide(.init(postgres: .standby(behind, upstream: nil), leaseValidUntil: .zero + .seconds(3), cluster: cluster), now: .zero)
        #expect(decision.actions.isEmpty)
        #expect(
            decision.description
                == "no action: no leader; b lags 2097152 bytes behind the last primary position 0/C00000, more than maximum_lag_on_failover 1048576")
    }

    @Test("in synchronous mode a standby outside the published set, or without the other members' positions, waits")
    func synchronousEligibility() {
        var settings = settings
        settings.synchronousMode = .on
        let position = WALPosition(timeline: 1, lsn: LogSequenceNumber(5000))
        let core = DatabaseHA(node: "b", settings: settings)
        var cluster = DatabaseHA.ClusterView(
            leader: nil, initialized: true, members: [member("b", .standby, position)], synchronous: SynchronousSet(members: ["c"]))
        let snapshot = { (cluster: DatabaseHA.ClusterView) in
            DatabaseHA.Snapshot(postgres: .standby(position, upstream: nil), leaseValidUntil: .zero + .seconds(3), cluster: cluster)
        }
        #expect(
            core.decide(snapshot(cluster), now: .zero).description
                == "no action: no leader; b is not a synchronous standby (ANY 1 (c)); it may miss acknowledged commits")
        cluster.synchronous = SynchronousSet(members: ["b", "c"])
        #expect(
            core.decide(snapshot(cluster), now: .zero).description
                == "no action: no leader; only 1 of 2 synchronous standbys needed to see every acknowledged commit answer")
        cluster.members.append(member("c", .standby, WALPosition(timeline: 1, lsn: LogSequenceNumber(4000))))
        #expect(core.decide(snapshot(cluster), now: .zero).actions == [.acquireLeadership])
    }

    @Test("synchronous standbys: the published set grows before PostgreSQL's and shrinks after it")
    func synchronousSetOrder() {
        var settings = settings
        settings.synchronousMode = .on
        settings.synchronousStandbys = 2
        let plan = SynchronousReplicationPlan(settings: settings, leader: "a")
        let streaming = [member("b", .standby, nil, upstream: "a"), member("c", .standby, nil, upstream: "a")]
        #expect(plan.nextStep(members: streaming, postgres: .empty, published: .empty) == .publishSynchronousSet(SynchronousSet(members: ["b", "c"])))
        #expect(
            plan.nextStep(members: streaming, postgres: .empty, published: SynchronousSet(members: ["b", "c"]))
                == .configureSynchronousStandbys(SynchronousSet(members: ["b", "c"])))
        #expect(plan.nextStep(members: streaming, postgres: SynchronousSet(members: ["b", "c"]), published: SynchronousSet(members: ["b", "c"])) == nil)
        // c dies: PostgreSQL stops waiting for it first, then the published set drops it.
        let onlyB = [streaming[0]]
        #expect(
            plan.nextStep(members: onlyB, postgres: SynchronousSet(members: ["b", "c"]), published: SynchronousSet(members: ["b", "c"]))
                == .configureSynchronousStandbys(SynchronousSet(members: ["b"])))
        #expect(
            plan.nextStep(members: onlyB, postgres: SynchronousSet(members: ["b"]), published: SynchronousSet(members: ["b", "c"]))
                == .publishSynchronousSet(SynchronousSet(members: ["b"])))
        // Strict: with nobody streaming, PostgreSQL keeps waiting for whom it waited for.
        settings.synchronousMode = .strict
        let strict = SynchronousReplicationPlan(settings: settings, leader: "a")
        #expect(strict.nextStep(members: [], postgres: SynchronousSet(members: ["b"]), published: SynchronousSet(members: ["b"])) == nil)
    }

    @Test("a planned switchover hands over without losing an acknowledged commit")
    func switchover() throws {
        var settings = settings
        settings.synchronousMode = .on
        var simulation = DatabaseClusterSimulation(nodes: ["a", "b", "c"], settings: settings, seed: 3)
        run(&simulation, for: .seconds(6))
        let first = try #require(simulation.healthyLeader)
        let target = simulation.nodes.map(\.name).first { $0 != first }!
        simulation.coordinator.switchover = SwitchoverRequest(from: first, target: target)
        run(&simulation, for: .seconds(6))
        #expect(simulation.healthyLeader == target)
        #expect(simulation.coordinator.switchover == nil)
        #expect(Set(standbys(simulation, following: target)) == Set(simulation.nodes.map(\.name).filter { $0 != target }))
        #expect(simulation.violations.isEmpty, "\(simulation.violations)")
    }

    @Test(
        "seeded crashes, partitions and isolation: never two writable primaries, no acknowledged commit lost, a leader again once quiet",
        arguments: [DatabaseSpec.SynchronousMode.off, .on, .strict], 0..<25)
    func seededFaults(mode: DatabaseSpec.SynchronousMode, seed: UInt64) {
        var settings = settings
        settings.synchronousMode = mode
        settings.synchronousStandbys = mode == .off ? 1 : 2
        var simulation = DatabaseClusterSimulation(nodes: ["a", "b", "c"], settings: settings, seed: seed)
        var faults = SeededRandom(seed: seed &* 7919 &+ 17)
        run(&simulation, for: .seconds(5))
        for _ in 0..<40 {
            let index = Int.random(in: 0..<3, using: &faults)
            switch Int.random(in: 0..<6, using: &faults) {
            case 0: simulation.crash(index)
            case 1: simulation.restart(index)
            case 2: simulation.nodes[index].partitioned.toggle()
            case 3: simulation.nodes[index].isolated.toggle()
            case 4: simulation.slowReplication.toggle()
            default: break
            }
            run(&simulation, for: .milliseconds(Int64.random(in: 200...6000, using: &faults)))
        }
        for index in simulation.nodes.indices {
            simulation.nodes[index].partitioned = false
            simulation.nodes[index].isolated = false
            if !simulation.nodes[index].running { simulation.restart(index) }
        }
        simulation.slowReplication = false
        run(&simulation, for: .seconds(30))
        #expect(simulation.violations.isEmpty, "seed \(seed), \(mode): \(simulation.violations.prefix(3)); \(simulation.log.suffix(12))")
        #expect(simulation.healthyLeader != nil, "seed \(seed), \(mode): no leader after the faults ended; \(simulation.log.suffix(12))")
        if let leader = simulation.healthyLeader {
            #expect(standbys(simulation, following: leader).count == 2, "seed \(seed), \(mode): \(simulation.nodes.map { "\($0.name) \($0.server)" })")
        }
    }

    private func member(_ name: String, _ role: MemberStatus.Role, _ position: WALPosition?, upstream: String? = nil) -> MemberStatus {
        MemberStatus(name: name, zone: "z", role: role, position: position, upstream: upstream, postgresAddress: "", apiAddress: "")
    }
}
