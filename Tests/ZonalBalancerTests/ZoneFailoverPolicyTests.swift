import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

@Suite("Zone failover policy")
struct ZoneFailoverPolicyTests {
    let t0 = MonotonicInstant.zero

    @Test("fails over only when the primary zone has no healthy server; fails back after the hold-down")
    func failoverAndFailback() {
        var policy = ZoneFailoverPolicy(primaryZone: "east-a", secondaryZone: "east-b")
        #expect(policy.update(healthyInPrimary: 2, healthyInSecondary: 2, now: t0)?.to == .primary)
        #expect(policy.update(healthyInPrimary: 1, healthyInSecondary: 2, now: t0 + .seconds(1)) == nil)
        let failover = policy.update(healthyInPrimary: 0, healthyInSecondary: 2, now: t0 + .seconds(2))
        #expect(failover?.to == .secondary)
        #expect(failover?.cause == "primary zone east-a has no healthy server; 2 healthy in east-b")
        #expect(policy.servingZone == "east-b")
        // The primary comes back, flaps, and comes back for good.
        #expect(policy.update(healthyInPrimary: 1, healthyInSecondary: 2, now: t0 + .seconds(3)) == nil)
        #expect(policy.update(healthyInPrimary: 0, healthyInSecondary: 2, now: t0 + .seconds(4)) == nil)
        #expect(policy.update(healthyInPrimary: 1, healthyInSecondary: 2, now: t0 + .seconds(5)) == nil)
        #expect(policy.nextDecision == t0 + .seconds(10))
        #expect(policy.update(healthyInPrimary: 1, healthyInSecondary: 2, now: t0 + .milliseconds(9999)) == nil)
        let failback = policy.update(healthyInPrimary: 1, healthyInSecondary: 2, now: t0 + .seconds(10))
        #expect(failback?.to == .primary)
        #expect(failback?.cause == "primary zone east-a healthy for 5s")
    }

    @Test("with both zones down nothing serves; whichever returns first serves")
    func bothDown() {
        var policy = ZoneFailoverPolicy(primaryZone: "a", secondaryZone: "b")
        _ = policy.update(healthyInPrimary: 1, healthyInSecondary: 1, now: t0)
        #expect(policy.update(healthyInPrimary: 0, healthyInSecondary: 0, now: t0 + .seconds(1))?.to == ZoneFailoverPolicy.Active.none)
        #expect(policy.servingZone == nil)
        #expect(policy.update(healthyInPrimary: 0, healthyInSecondary: 1, now: t0 + .seconds(2))?.to == .secondary)
        // The secondary dies while the primary is back but still in hold-down: primary at once.
        _ = policy.update(healthyInPrimary: 1, healthyInSecondary: 1, now: t0 + .seconds(3))
        #expect(policy.update(healthyInPrimary: 1, healthyInSecondary: 0, now: t0 + .seconds(4))?.to == .primary)
    }

    @Test("seeded health schedules: the rules hold at every step", arguments: 0..<200)
    func randomSchedules(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var policy = ZoneFailoverPolicy(primaryZone: "p", secondaryZone: "s", settings: .init(failbackHoldDown: .seconds(3)))
        var now = t0
        var primaryUpSince: MonotonicInstant?
        for _ in 0..<300 {
            now = now + .milliseconds(Int64.random(in: 0...2000, using: &random))
            let primary = random.chance(0.7) ? Int.random(in: 1...3, using: &random) : 0
            let secondary = random.chance(0.7) ? Int.random(in: 1...3, using: &random) : 0
            if primary > 0 { primaryUpSince = primaryUpSince ?? now } else { primaryUpSince = nil }
            let change = policy.update(healthyInPrimary: primary, healthyInSecondary: secondary, now: now)
            switch policy.active {
            case .primary:
                #expect(primary > 0, "seed \(seed): serving a primary zone with no healthy server")
            case .secondary:
                #expect(secondary > 0, "seed \(seed): serving a secondary zone with no healthy server")
                #expect(primaryUpSince.map { now - $0 < .seconds(3) } ?? true, "seed \(seed): stayed on secondary after the hold-down")
            case .none:
                #expect(primary == 0 && secondary == 0, "seed \(seed): serving nothing while a zone is healthy")
            }
            if change?.to == .secondary { #expect(primary == 0, "seed \(seed): failed over with a healthy primary") }
        }
    }
}
