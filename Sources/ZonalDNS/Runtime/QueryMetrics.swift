import Metrics

/// `zonal_dns_queries_total` by query type and response code. The counters are made once; each
/// handler counts into its own ``Tally`` and adds it to them once per batch of reads, so the
/// event loops do not contend on one counter per query.
final class QueryMetrics: Sendable {
    private static let types: [RecordType] = [.a, .aaaa, .ns, .cname, .soa, .ptr, .mx, .txt, .srv, .caa, .any, .axfr, .ixfr]
    private static let codes: [ResponseCode] = [.noError, .formatError, .serverFailure, .nameError, .notImplemented, .refused, .notAuthoritative, .badVersion]
    /// By type index (the last for other types) times the codes, plus code index (the last for other codes).
    private let counters: [Counter]

    init(service: String) {
        let typeNames = Self.types.map(\.description) + ["other"]
        let codeNames = Self.codes.map(\.description) + ["other"]
        counters = typeNames.flatMap { type in
            codeNames.map { code in Counter(label: "zonal_dns_queries_total", dimensions: [("service", service), ("type", type), ("rcode", code)]) }
        }
    }

    /// Queries counted by one handler since its last flush.
    struct Tally {
        fileprivate var counts = [Int](repeating: 0, count: (QueryMetrics.types.count + 1) * (QueryMetrics.codes.count + 1))
        fileprivate var isEmpty = true

        mutating func record(_ outcome: QueryResponder.Outcome) {
            let type = outcome.type.flatMap { QueryMetrics.types.firstIndex(of: $0) } ?? QueryMetrics.types.count
            let code = QueryMetrics.codes.firstIndex(of: outcome.code) ?? QueryMetrics.codes.count
            counts[type * (QueryMetrics.codes.count + 1) + code] += 1
            isEmpty = false
        }
    }

    /// Adds a handler's tally to the counters and empties it.
    func flush(_ tally: inout Tally) {
        guard !tally.isEmpty else { return }
        for (index, count) in tally.counts.enumerated() where count > 0 {
            counters[index].increment(by: count)
            tally.counts[index] = 0
        }
        tally.isEmpty = true
    }
}
