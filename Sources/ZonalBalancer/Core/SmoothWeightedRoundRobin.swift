/// Weighted round robin that spreads picks evenly, as nginx does: with weights 5, 1, 1 the
/// order is a a b a c a a, not a a a a a b c.
///
/// Each pick adds every candidate's weight to its running score, takes the highest score and
/// subtracts the total weight from it. Scores are kept by backend id, so candidates may come and
/// go between picks (unhealthy servers drop out) without disturbing the others' shares.
public struct SmoothWeightedRoundRobin: Sendable {
    private var scores: [String: Int] = [:]

    public init() {}

    /// Picks one of `candidates` (servers with weight 0 are never picked); nil when none can be.
    public mutating func pick(from candidates: [Backend]) -> Backend? {
        let eligible = candidates.filter { $0.weight > 0 }
        guard !eligible.isEmpty else { return nil }
        let total = eligible.reduce(0) { $0 + $1.weight }
        var best: Backend?
        var bestScore = Int.min
        for backend in eligible {
            let score = scores[backend.id, default: 0] + backend.weight
            scores[backend.id] = score
            if score > bestScore {
                best = backend
                bestScore = score
            }
        }
        guard let chosen = best else { return nil }
        scores[chosen.id, default: 0] -= total
        // Forget servers that left, so a returning one starts fresh.
        if scores.count > eligible.count * 2 {
            let ids = Set(eligible.map(\.id))
            scores = scores.filter { ids.contains($0.key) }
        }
        return chosen
    }
}
