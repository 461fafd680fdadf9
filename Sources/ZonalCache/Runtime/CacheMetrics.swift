import Metrics

/// What the proxy and the agents count for Prometheus (`GET /metrics` on their admin ports).
/// Per command nothing is counted: a counter per command would cost the proxy throughput.
struct ProxyMetrics: Sendable {
    /// Client connections open now.
    let clients: Meter
    /// Commands answered by the proxy with an error instead of the master: `reason` is
    /// `master_changed`, `connection_lost` or `no_master`.
    let failedCommands: @Sendable (String) -> Counter
    /// Changes of master the proxy followed.
    let masterChanges: Counter

    init(proxy: String) {
        clients = Meter(label: "zonal_cache_proxy_clients", dimensions: [("service", proxy)])
        failedCommands = { reason in Counter(label: "zonal_cache_proxy_failed_commands_total", dimensions: [("service", proxy), ("reason", reason)]) }
        masterChanges = Counter(label: "zonal_cache_proxy_master_changes_total", dimensions: [("service", proxy)])
    }
}

/// An agent's figures: its role and offset, and the failovers it carried out.
struct AgentMetrics: Sendable {
    /// 1 while this node is the routed master, 0 otherwise.
    let master: Gauge
    /// Redis's `master_repl_offset` at the last observation.
    let offset: Gauge
    /// Promotions this agent carried out, and old masters it turned into replicas.
    let failovers: Counter
    let rejoins: Counter

    init(service: String, node: String) {
        let dimensions = [("service", service), ("node", node)]
        master = Gauge(label: "zonal_cache_master", dimensions: dimensions)
        offset = Gauge(label: "zonal_cache_replication_offset", dimensions: dimensions)
        failovers = Counter(label: "zonal_cache_failovers_total", dimensions: dimensions)
        rejoins = Counter(label: "zonal_cache_rejoins_total", dimensions: dimensions)
    }
}
