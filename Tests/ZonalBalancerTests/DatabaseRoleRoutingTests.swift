import Testing
import ZonalDatabase
@testable import ZonalBalancer

@Suite("PostgreSQL pools")
struct DatabaseRoleRoutingTests {
    func member(_ name: String, _ role: MemberStatus.Role, upstream: String? = nil) -> MemberStatus {
        MemberStatus(name: name, zone: "z", role: role, position: nil, upstream: upstream, postgresAddress: "", apiAddress: "")
    }

    @Test("writes go only to the primary holding the leader key; reads to streaming standbys, else the primary")
    func roles() {
        var view = DatabaseHA.ClusterView(leader: "a", initialized: true, members: [
            member("a", .primary), member("b", .standby, upstream: "a"), member("c", .standby),
        ])
        #expect(DatabaseRoleRouting.servers(for: .primary, in: view) == ["a"])
        #expect(DatabaseRoleRouting.servers(for: .replica, in: view) == ["b"])
        view.members[1].upstream = nil
        #expect(DatabaseRoleRouting.servers(for: .replica, in: view) == ["a"])
        // A primary without the leader key takes no writes (it is about to be fenced).
        view.leader = "b"
        #expect(DatabaseRoleRouting.servers(for: .primary, in: view).isEmpty)
        #expect(DatabaseRoleRouting.node(of: "db@east-a-1") == "east-a-1")
    }
}
