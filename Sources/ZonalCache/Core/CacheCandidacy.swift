import ZonalCore

/// Whether a node may take the leader key when nobody holds it.
///
/// The rules, in order: the node must have published its status, be promotable and know its
/// offset; on a first start, every peer must have published (waited for at most one `ttl`);
/// every other promotable member must have stopped streaming from the lost master
/// (its published offset is final) — waited for at most one `ttl`, after which a member still
/// streaming is taken at its word; and no such member may hold more of the stream. Ties go to
/// the lower name, so candidates agree without talking. The leader key is taken in a
/// transaction that fails if anyone took it first.
public struct CacheCandidacy: Sendable {
    public enum Verdict: Sendable, Hashable {
        case eligible(String)
        case ineligible(String)
    }

    public let node: String
    public let peers: [String]
    public let settings: CacheHA.Settings

    public init(node: String, peers: [String], settings: CacheHA.Settings) {
        self.node = node
        self.peers = peers
        self.settings = settings
    }

    public func evaluate(_ redis: CacheHA.LocalServer, cluster: CacheHA.ClusterView, leaderlessFor: Duration, seenLeader: Bool = true) -> Verdict {
        guard let me = cluster.member(node) else { return .ineligible("\(node) has not published its status yet") }
        guard me.promotable else { return .ineligible("\(node) is marked nofailover") }
        guard let mine = redis.offset else { return .ineligible("\(node)'s offset is unknown") }
        if !seenLeader, leaderlessFor < settings.ttl, let missing = peers.first(where: { cluster.member($0) == nil }) {
            return .ineligible("waiting for \(missing) to publish its offset before choosing a first master")
        }
        let rivals = cluster.members.filter { $0.name != node && $0.promotable }
        if leaderlessFor < settings.ttl, let streaming = rivals.first(where: { $0.role == .replica && $0.linkUp }) {
            return .ineligible("\(streaming.name) still streams from \(streaming.upstream ?? "the master"); its offset is not final")
        }
        if let better = rivals.first(where: { Self.ranks($0, above: mine, named: node) }) {
            return .ineligible("\(better.name) has more of the stream (offset \(better.offset ?? 0) against \(mine))")
        }
        return .eligible("no leader; \(node) has the most of the stream (offset \(mine))")
    }

    /// Whether `member` is a better candidate than a node named `name` at `offset`.
    static func ranks(_ member: CacheMember, above offset: Int64, named name: String) -> Bool {
        guard let theirs = member.offset, member.role != .stopped else { return false }
        return theirs != offset ? theirs > offset : member.name < name
    }
}
