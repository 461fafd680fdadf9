import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCache

@Suite("Cache HA decision core")
struct CacheHATests {
    let settings = CacheHA.Settings()

    func member(_ name: String, _ role: CacheMember.Role, offset: Int64?, linkUp: Bool = false, promotable: Bool = true) -> CacheMember {
        CacheMember(
            name: name, zone: "z", role: role, offset: offset, upstream: role == .replica ? "m" : nil, linkUp: linkUp, redisAddress: "", promotable: promotable)
    }

    func decide(
        _ node: String, _ redis: CacheHA.LocalServer, leader: String?, members: [CacheMember], lease: MonotonicInstant? = .init(nanoseconds: 10_000_000_000),
        leaderlessFor: Duration = .seconds(5), now: MonotonicInstant = .init(nanoseconds: 5_000_000_000)
    ) -> CacheHA.Decision {
        let peers = members.map(\.name).filter { $0 != node }
        return CacheHA(node: node, peers: peers, settings: settings).decide(
            .init(redis: redis, leaseValidUntil: lease, cluster: .init(leader: leader, members: members), leaderlessSince: now - leaderlessFor), now: now)
    }

    @Test("the replica with the highest offset takes the leader key; the others wait for it")
    func highestOffsetWins() {
        let members = [member("a", .replica, offset: 90), member("b", .replica, offset: 120), member("c", .replica, offset: 120)]
        #expect(decide("b", .replica(offset: 120, upstream: "m", linkUp: false), leader: nil, members: members).actions == [.acquireLeadership])
        let behind = decide("a", .replica(offset: 90, upstream: "m", linkUp: false), leader: nil, members: members)
        #expect(behind.actions.isEmpty)
        #expect(behind.reason.contains("b has more of the stream"))
        #expect(decide("c", .replica(offset: 120, upstream: "m", linkUp: false), leader: nil, members: members).actions.isEmpty, "ties go to the lower name")
    }

    @Test("a candidate waits while a rival still streams (its offset is not final), for at most one ttl")
    func waitsForStreamingRivals() {
        let members = [member("a", .replica, offset: 100), member("b", .replica, offset: 50, linkUp: true)]
        let early = decide("a", .replica(offset: 100, upstream: "m", linkUp: false), leader: nil, members: members, leaderlessFor: .milliseconds(200))
        #expect(early.actions.isEmpty)
        #expect(early.reason.contains("b still streams"))
        #expect(
            decide("a", .replica(offset: 100, upstream: "m", linkUp: false), leader: nil, members: members, leaderlessFor: .seconds(2)).actions == [
                .acquireLeadership
            ])
    }

    @Test("a nofailover node never takes the key; a lone promotable replica of a pair does")
    func noFailoverAndPairs() {
        let members = [member("a", .replica, offset: 100, promotable: false), member("b", .replica, offset: 10)]
        #expect(decide("a", .replica(offset: 100, upstream: "m", linkUp: false), leader: nil, members: members).actions.isEmpty)
        #expect(decide("b", .replica(offset: 10, upstream: "m", linkUp: false), leader: nil, members: members).actions == [.acquireLeadership])
        #expect(
            decide("b", .replica(offset: 10, upstream: "m", linkUp: false), leader: nil, members: [member("b", .replica, offset: 10)]).actions == [
                .acquireLeadership
            ])
    }

    @Test("the leader promotes its replica and resumes paused writes; a master without the key follows the leader")
    func leaderAndFollower() {
        #expect(decide("a", .replica(offset: 1, upstream: "m", linkUp: false), leader: "a", members: []).actions == [.promote])
        #expect(decide("a", .master(offset: 1, paused: true), leader: "a", members: []).actions == [.unfence])
        #expect(decide("a", .stopped, leader: "a", members: []).actions == [.startMaster])
        #expect(decide("m", .master(offset: 9, paused: false), leader: "a", members: []).actions == [.follow("a")])
        #expect(decide("m", .stopped, leader: "a", members: []).actions == [.startReplica(of: "a")])
        #expect(decide("m", .replica(offset: 9, upstream: "old", linkUp: true), leader: "a", members: []).actions == [.follow("a")])
        #expect(decide("m", .replica(offset: 9, upstream: "a", linkUp: true), leader: "a", members: []).actions.isEmpty)
    }

    @Test("a master pauses writes once its lease may lapse, before the coordinator can expire it, and needs no coordinator to do so")
    func fencing() {
        let now = MonotonicInstant(nanoseconds: 5_000_000_000)
        let master = CacheHA.LocalServer.master(offset: 5, paused: false)
        let fine = decide("a", master, leader: "a", members: [], lease: now + .milliseconds(700), now: now)
        #expect(fine.actions.isEmpty)
        #expect(fine.decideAgainBy <= now + .milliseconds(400), "the next decision comes by the fence point")
        let due = CacheHA(node: "a", peers: [], settings: settings).decide(
            .init(redis: master, leaseValidUntil: now + .milliseconds(250), cluster: nil), now: now)
        #expect(due.actions.count == 1)
        if case .fence = due.actions.first {} else { Issue.record("expected a fence, got \(due)") }
        #expect(CacheHA(node: "a", peers: [], settings: settings).decide(.init(redis: master, leaseValidUntil: nil, cluster: nil), now: now).actions.count == 1)
    }

    @Test("on a first start a candidate waits up to one ttl for every peer's offset")
    func firstStartWaitsForPeers() {
        let now = MonotonicInstant(nanoseconds: 5_000_000_000)
        let core = CacheHA(node: "b", peers: ["a"], settings: settings)
        let members = [member("b", .master, offset: 10)]
        let snapshot = CacheHA.Snapshot(
            redis: .master(offset: 10, paused: true), leaseValidUntil: now + .seconds(1), cluster: .init(leader: nil, members: members),
            leaderlessSince: now - .milliseconds(100), seenLeader: false)
        #expect(core.decide(snapshot, now: now).reason.contains("waiting for a"))
        var later = snapshot
        later.leaderlessSince = now - .seconds(2)
        #expect(core.decide(later, now: now).actions == [.acquireLeadership])
    }

    @Test("seeded crashes, partitions and coordinator outages: never two masters taking writes, a routed master again once quiet", arguments: 0..<30)
    func seededFaults(seed: UInt64) {
        var simulation = CacheClusterSimulation(nodes: ["a", "b", "c"])
        var faults = SeededRandom(seed: seed &* 6151 &+ 3)
        simulation.run(for: .seconds(3))
        for _ in 0..<30 {
            let index = Int.random(in: 0..<3, using: &faults)
            switch Int.random(in: 0..<5, using: &faults) {
            case 0: simulation.crash(index)
            case 1: simulation.restart(index)
            case 2: simulation.nodes[index].partitioned.toggle()
            case 3:  // the coordinator is lost to everyone at once: every lease lapses together
                let cut = !simulation.nodes[0].partitioned
                for node in simulation.nodes.indices { simulation.nodes[node].partitioned = cut }
            default: break
            }
            simulation.run(for: .milliseconds(Int64.random(in: 100...3000, using: &faults)))
        }
        for index in simulation.nodes.indices {
            simulation.nodes[index].partitioned = false
            simulation.restart(index)
        }
        simulation.run(for: .seconds(10))
        #expect(simulation.violations.isEmpty, "seed \(seed): \(simulation.violations.prefix(3)); \(simulation.log.suffix(10))")
        let master = simulation.routedMaster
        #expect(master != nil, "seed \(seed): no master after the faults; \(simulation.log.suffix(10))")
        let replicas = simulation.nodes.filter { $0.redis == .replica && $0.upstream == master }
        #expect(replicas.count == 2, "seed \(seed): \(simulation.nodes.map { "\($0.name) \($0.redis) \($0.upstream ?? "-")" })")
    }

    @Test("seeded crashes of whole nodes, replication in step: no acknowledged write is lost", arguments: 0..<30)
    func crashesLoseNothing(seed: UInt64) {
        var simulation = CacheClusterSimulation(nodes: ["a", "b", "c"])
        var faults = SeededRandom(seed: seed &* 4099 &+ 11)
        simulation.run(for: .seconds(3))
        for _ in 0..<20 {
            let index = Int.random(in: 0..<3, using: &faults)
            if simulation.nodes.filter(\.running).count > 1, faults.chance(0.5) { simulation.crash(index) } else { simulation.restart(index) }
            simulation.run(for: .milliseconds(Int64.random(in: 500...4000, using: &faults)))
        }
        for index in simulation.nodes.indices { simulation.restart(index) }
        simulation.run(for: .seconds(10))
        #expect(simulation.acknowledged.count > 100)
        #expect(simulation.lostWrites.isEmpty, "seed \(seed): lost \(simulation.lostWrites.prefix(5)); \(simulation.log.suffix(10))")
    }
}
