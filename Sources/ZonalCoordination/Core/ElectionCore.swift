/// Who leads an election, from the candidates' keys: the oldest (lowest create revision) wins,
/// as in etcd's election recipe. Every other candidate waits for the key just older than its
/// own to go, so a leader's departure wakes exactly one successor.
public enum ElectionCore {
    public enum Decision: Sendable, Hashable, CustomStringConvertible {
        case lead
        /// Wait until `key` (created at `revision`) is deleted, then decide again.
        case waitFor(key: String, revision: Int64)
        /// Our key is gone (lease expired): campaign again.
        case lostCandidacy

        public var description: String {
            switch self {
            case .lead: "leading: ours is the oldest candidate key"
            case .waitFor(let key, let revision): "waiting: \(key) (created at revision \(revision)) is older than ours"
            case .lostCandidacy: "our candidate key is gone"
            }
        }
    }

    public static func decide(candidates: [KeyValue], mine: String) -> Decision {
        guard let own = candidates.first(where: { $0.key == mine }) else { return .lostCandidacy }
        let older = candidates.filter { $0.createRevision < own.createRevision }
        guard let predecessor = older.max(by: { $0.createRevision < $1.createRevision }) else { return .lead }
        return .waitFor(key: predecessor.key, revision: predecessor.modRevision)
    }

    /// The leader among the candidates, if any.
    public static func leader(of candidates: [KeyValue]) -> KeyValue? {
        candidates.min { $0.createRevision < $1.createRevision }
    }
}
