/// Weighted least connections: the server with the fewest active connections per unit of
/// weight gets the next one; ties go round robin, so idle servers share the first requests.
public struct LeastConnections: Sendable {
    private var tieBreaker = SmoothWeightedRoundRobin()

    public init() {}

    /// `active` gives each server's open connections (or requests in flight).
    public mutating func pick(from candidates: [Backend], active: (Backend) -> Int) -> Backend? {
        let eligible = candidates.filter { $0.weight > 0 }
        guard !eligible.isEmpty else { return nil }
        // Compare active/weight without division: a.active * b.weight < b.active * a.weight.
        let lowest = eligible.min { active($0) * $1.weight < active($1) * $0.weight }!
        let tied = eligible.filter { active($0) * lowest.weight == active(lowest) * $0.weight }
        return tied.count == 1 ? lowest : tieBreaker.pick(from: tied)
    }
}
