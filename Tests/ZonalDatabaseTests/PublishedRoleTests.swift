import Testing
import ZonalCore

@testable import ZonalDatabase

@Suite("The role an agent publishes for balancers")
struct PublishedRoleTests {
    let position = WALPosition(timeline: 1, lsn: LogSequenceNumber(0x3000000))

    @Test("primary only with the leader key; replica only while streaming; nothing otherwise")
    func roles() {
        #expect(DatabaseAgent.role(of: .primary(position, synchronous: .empty), leader: "a", me: "a") == .primary)
        // A primary without the leader key takes no writes (it is about to be fenced).
        #expect(DatabaseAgent.role(of: .primary(position, synchronous: .empty), leader: "b", me: "a") == nil)
        #expect(DatabaseAgent.role(of: .primary(position, synchronous: .empty), leader: nil, me: "a") == nil)
        #expect(DatabaseAgent.role(of: .standby(position, upstream: "b"), leader: "b", me: "a") == .replica)
        #expect(DatabaseAgent.role(of: .standby(position, upstream: nil), leader: "b", me: "a") == nil)
        #expect(DatabaseAgent.role(of: .absent, leader: "b", me: "a") == nil)
    }
}
