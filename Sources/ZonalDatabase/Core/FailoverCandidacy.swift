import ZonalCore

/// Whether a node may take the leader key when nobody holds it.
///
/// The rules, in order: the node must be promotable; no live member may still run as primary;
/// a requested switchover names its target; a node must have the final position of a primary
/// that stepped down. In synchronous mode it must be in the published set, hear from enough of
/// that set to see every acknowledged commit and have the highest position among them. In
/// asynchronous mode it must be within `maximum_lag_on_failover` of the last known primary
/// position and no other promotable member may have more data. Ties go to the lower name, so
/// candidates agree without talking.
public struct FailoverCandidacy: Sendable {
    public enum Verdict: Sendable, Hashable {
        case eligible(String)
        case ineligible(String)
    }

    public let node: String
    public let settings: DatabaseHA.Settings

    public init(node: String, settings: DatabaseHA.Settings) {
        self.node = node
        self.settings = settings
    }

    public func evaluate(server: DatabaseHA.LocalServer, cluster: DatabaseHA.ClusterView) -> Verdict {
        guard let me = cluster.member(node) else { return .ineligible("\(node) has not published its status yet") }
        guard me.promotable else { return .ineligible("\(node) is marked nofailover") }
        guard let mine = server.position else { return .ineligible("\(node)'s position is unknown") }
        if let primary = cluster.members.first(where: { $0.name != node && $0.role == .primary }) {
            return .ineligible("\(primary.name) still runs as primary")
        }
        if let switchover = cluster.switchover {
            guard switchover.target == node else { return .ineligible("switchover to \(switchover.target) in progress") }
        }
        if let last = cluster.leaderPosition, last.name != node {
            if mine.timeline < last.position.timeline {
                return .ineligible("\(node) is on timeline \(mine.timeline), the primary was on \(last.position.timeline)")
            }
            if last.final, mine.lsn < last.position.lsn {
                return .ineligible("\(node) has \(mine.lsn), the stepped-down primary ended at \(last.position.lsn)")
            }
        }
        if cluster.switchover?.target == node {
            return .eligible("switchover to \(node): it has \(mine)")
        }
        if let last = cluster.leaderPosition, last.name == node, mine.timeline == last.position.timeline, mine.lsn >= last.position.lsn {
            return .eligible("no leader; \(node) was the primary and has its last position (\(mine))")
        }
        switch settings.synchronousMode {
        case .off: return evaluateAsynchronous(mine, cluster: cluster)
        case .on, .strict: return evaluateSynchronous(mine, cluster: cluster)
        }
    }

    private func evaluateAsynchronous(_ mine: WALPosition, cluster: DatabaseHA.ClusterView) -> Verdict {
        if let last = cluster.leaderPosition, last.name != node {
            let lag = last.position.lsn.bytes(after: mine.lsn)
            if lag > settings.maximumLagOnFailover {
                return .ineligible(
                    "\(node) lags \(lag) bytes behind the last primary position \(last.position.lsn), more than maximum_lag_on_failover \(settings.maximumLagOnFailover)"
                )
            }
        }
        let rivals = cluster.members.filter { $0.name != node && $0.promotable }
        if let better = rivals.first(where: { Self.ranks($0, above: mine, named: node) }) {
            return .ineligible("\(better.name) has more data (\(better.position.map(\.description) ?? "?"))")
        }
        return .eligible("no leader; \(node) has the most data (\(mine))")
    }

    private func evaluateSynchronous(_ mine: WALPosition, cluster: DatabaseHA.ClusterView) -> Verdict {
        let set = cluster.synchronous
        guard set.members.contains(node) else {
            return .ineligible("\(node) is not a synchronous standby (\(set)); it may miss acknowledged commits")
        }
        let heard = set.members.compactMap { name in cluster.member(name) }.filter { $0.position != nil }
        guard heard.count >= set.membersToConsult else {
            return .ineligible("only \(heard.count) of \(set.membersToConsult) synchronous standbys needed to see every acknowledged commit answer")
        }
        if let better = heard.first(where: { $0.name != node && Self.ranks($0, above: mine, named: node) }) {
            return .ineligible("\(better.name) has more data (\(better.position.map(\.description) ?? "?"))")
        }
        return .eligible("no leader; \(node) is a synchronous standby with every acknowledged commit (\(mine))")
    }

    /// Whether `member` is a better candidate than a node named `name` at `position`.
    static func ranks(_ member: MemberStatus, above position: WALPosition, named name: String) -> Bool {
        guard let theirs = member.position else { return false }
        if theirs.timeline != position.timeline { return theirs.timeline > position.timeline }
        if theirs.lsn != position.lsn { return theirs.lsn > position.lsn }
        return member.name < name
    }
}
