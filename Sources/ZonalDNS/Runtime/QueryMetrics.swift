import Metrics

/// `zonal_dns_queries_total` by query type and response code. The counters are made once, for
/// the types and codes that occur, so counting a query takes no lookup or lock.
final class QueryMetrics: Sendable {
    private static let types: [RecordType] = [.a, .aaaa, .ns, .cname, .soa, .ptr, .mx, .txt, .srv, .caa, .any, .axfr, .ixfr]
    private static let codes: [ResponseCode] = [.noError, .formatError, .serverFailure, .nameError, .notImplemented, .refused, .notAuthoritative, .badVersion]
    /// By type index (the last for other types), then code index (the last for other codes).
    private let counters: [[Counter]]

    init(service: String) {
        let typeNames = Self.types.map(\.description) + ["other"]
        let codeNames = Self.codes.map(\.description) + ["other"]
        counters = typeNames.map { type in
            codeNames.map { code in
                Counter(label: "zonal_dns_queries_total", dimensions: [("service", service), ("type", type), ("rcode", code)])
            }
        }
    }

    func record(_ outcome: QueryResponder.Outcome) {
        let type = outcome.type.flatMap { Self.types.firstIndex(of: $0) } ?? Self.types.count
        let code = Self.codes.firstIndex(of: outcome.code) ?? Self.codes.count
        counters[type][code].increment()
    }
}
