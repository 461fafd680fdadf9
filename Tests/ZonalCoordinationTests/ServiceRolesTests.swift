import Testing
import ZonalCoordination
import ZonalCore

@Suite("Service roles and backoff")
struct ServiceRolesTests {
    @Test("writes go to the one primary; reads to the replicas, else the primary; two primaries take no writes")
    func trafficRules() {
        var roles = ServiceRoles(byNode: ["a": .primary, "b": .replica])
        #expect(roles.nodes(takingTrafficFor: .primary) == ["a"] && roles.nodes(takingTrafficFor: .replica) == ["b"])
        roles.set(nil, for: "b")
        #expect(roles.nodes(takingTrafficFor: .replica) == ["a"])
        // A handover under way: the old primary has not withdrawn yet.
        roles.set(.primary, for: "c")
        #expect(roles.writer == nil && roles.nodes(takingTrafficFor: .primary).isEmpty && roles.readers.isEmpty)
        roles.set(nil, for: "a")
        #expect(roles.writer == "c")
        #expect(ServiceRoles().writer == nil && ServiceRoles().readers.isEmpty)
    }

    @Test("backoff doubles from initial to the cap, and jitter only shortens a delay")
    func backoff() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 0.5)
        #expect(
            (1...6).map { backoff.delay(afterFailures: $0, random: 0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(backoff.delay(afterFailures: 2, random: 1) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 0, random: 0) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: Int.max, random: 0) == .seconds(1))
        for failures in 1...20 {
            let delay = backoff.delay(afterFailures: failures)
            #expect(delay >= .milliseconds(50) && delay <= .seconds(1))
        }
        let odd = Backoff(initial: .seconds(5), maximum: .seconds(1), jitter: 7)
        #expect(odd.maximum == .seconds(5) && odd.jitter == 1)
    }
}
