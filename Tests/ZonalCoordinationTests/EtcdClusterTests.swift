import Logging
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// A real three-member etcd cluster, one member per zone, losing its Raft leader.
@Suite("Three-member etcd")
struct EtcdClusterTests {
    @Test("killing the etcd member that leads Raft does not cost a Zonal leader its key for a TTL")
    func raftLeaderLoss() async throws {
        let etcd = try await EtcdFixture(size: 3)
        do {
            let logger = Logger(label: "test.etcd-cluster")
            let client = try EtcdCoordinator(endpoints: etcd.endpoints, requestTimeout: .milliseconds(700))
            let settings = LeaderElection.Settings(ttl: .seconds(3))
            let election = LeaderElection(coordinator: client, name: "/zonal/test/cluster-leader", settings: settings, logger: logger)
            let leadership = try await election.campaign(value: "primary")
            let raftLeader = try #require(await etcd.leader())
            await etcd.kill(raftLeader)

            // Watch for three TTLs how long, at most, this side stops believing it leads.
            let clock = SystemClock()
            let end = clock.now + settings.ttl * 3
            var invalidSince: MonotonicInstant?
            var longestGap: Duration = .zero
            while clock.now < end {
                let now = clock.now
                if leadership.isValid(at: now) {
                    invalidSince = nil
                } else {
                    let since = invalidSince ?? now
                    invalidSince = since
                    longestGap = max(longestGap, now - since)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(longestGap < settings.ttl, "leadership lapsed for \(longestGap)")
            #expect(leadership.isValid(at: clock.now))
            let observer = try EtcdCoordinator(endpoints: etcd.endpoints.filter { $0 != raftLeader.clientURL })
            #expect(try await observer.get(leadership.key)?.string == "primary")
            await leadership.resign()
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }
}
