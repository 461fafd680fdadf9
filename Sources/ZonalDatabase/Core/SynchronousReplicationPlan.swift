/// How a primary changes the standbys PostgreSQL waits for without ever opening a window in
/// which a promotable node could miss an acknowledged commit.
///
/// Invariant: PostgreSQL's set stays inside the published one (same quorum). So a growing set is
/// published first and configured second; a shrinking one is configured first and published
/// second. One step per cycle: the next cycle sees the step's effect before taking another.
public struct SynchronousReplicationPlan: Sendable {
    public let settings: DatabaseHA.Settings
    public let leader: String

    public init(settings: DatabaseHA.Settings, leader: String) {
        self.settings = settings
        self.leader = leader
    }

    /// The standbys PostgreSQL should wait for: healthy ones streaming from the leader, current
    /// ones first (so a set does not churn), then the most advanced.
    public func desiredSet(members: [MemberStatus], current: SynchronousSet) -> SynchronousSet {
        let streaming = members.filter { $0.isStreaming(from: leader) && $0.promotable }
        let ranked = streaming.sorted { lhs, rhs in
            let lhsCurrent = current.members.contains(lhs.name)
            let rhsCurrent = current.members.contains(rhs.name)
            if lhsCurrent != rhsCurrent { return lhsCurrent }
            let lhsLSN = lhs.position?.lsn ?? .zero
            let rhsLSN = rhs.position?.lsn ?? .zero
            if lhsLSN != rhsLSN { return lhsLSN > rhsLSN }
            return lhs.name < rhs.name
        }
        let chosen = ranked.prefix(settings.synchronousStandbys).map(\.name)
        if chosen.isEmpty, settings.synchronousMode == .strict {
            // Writes wait rather than go unprotected: keep waiting for whoever was chosen last.
            return current
        }
        return SynchronousSet(members: chosen, quorum: 1)
    }

    /// The one action that moves toward the desired set, or nil when everything matches.
    public func nextStep(members: [MemberStatus], postgres: SynchronousSet, published: SynchronousSet) -> DatabaseHA.Action? {
        if settings.synchronousMode == .off {
            if !postgres.members.isEmpty { return .configureSynchronousStandbys(.empty) }
            if !published.members.isEmpty { return .publishSynchronousSet(.empty) }
            return nil
        }
        let desired = desiredSet(members: members, current: postgres)
        let publishedNames = Set(published.members)
        if !Set(desired.members).isSubset(of: publishedNames) {
            return .publishSynchronousSet(SynchronousSet(members: Array(publishedNames.union(desired.members)), quorum: 1))
        }
        if postgres != desired { return .configureSynchronousStandbys(desired) }
        if published != desired { return .publishSynchronousSet(desired) }
        return nil
    }
}
