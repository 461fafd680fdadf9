import Foundation
import Testing
import ZonalCoordination
import ZonalCore
import ZonalTesting

@testable import ZonalDatabase

/// Values in the coordinator are written by whoever holds the token: the agents read them the
/// way a server reads requests.
@Suite("Cluster state read from the coordinator")
struct ClusterStoreTests {
    @Test("values that do not decode are ignored and named; the rest of the cluster is read")
    func damagedValues() async throws {
        let coordinator = try EmbeddedCoordinator(directory: nil)
        let store = ClusterStore(coordinator: coordinator, service: "db")
        let good = MemberStatus(
            name: "n1", zone: "z", role: .primary, position: WALPosition(timeline: 1, lsn: LogSequenceNumber(64)),
            postgresAddress: "127.0.0.1:5432", apiAddress: "127.0.0.1:8008", promotable: true)
        try await coordinator.put(store.membersPrefix + "n1", value: Array(try JSONEncoder.zonal().encode(good)), lease: nil)
        try await coordinator.put(store.membersPrefix + "n2", "{\"name\": 7}")
        try await coordinator.put(store.positionKey, "not json")
        try await coordinator.put(store.synchronousKey, "[]")
        try await coordinator.put(store.leaderKey, "n1")
        let reading = try await store.read()
        #expect(reading.view.leader == "n1")
        #expect(reading.view.members.map(\.name) == ["n1"])
        #expect(reading.view.leaderPosition == nil && reading.view.synchronous == .empty)
        #expect(Set(reading.unreadable) == [store.membersPrefix + "n2", store.positionKey, store.synchronousKey])
    }
}
