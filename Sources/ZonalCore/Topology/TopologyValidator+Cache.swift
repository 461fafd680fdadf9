/// Checks of `redis` and `redis-proxy` services that need the whole topology.
extension Checker {
    mutating func cache(_ spec: CacheSpec, of service: Topology.Service) {
        let path = "services.\(service.name)"
        if service.adminPort == nil {
            report(path, "service \(service.name) is of kind `redis` and needs an `admin_port` for its agents' health and status API")
        }
        if spec.sentinelPort(servicePort: service.port) == nil {
            report("\(path).cache", "service \(service.name) listens on \(service.port), so the default `sentinel_port` (port + 20000) is no port; give one")
        }
        let failover = spec.failover
        if failover.loopWait >= failover.ttl {
            report(
                "\(path).cache.loop_wait",
                "`loop_wait` (\(failover.loopWait.zonalDescription)) of service \(service.name) must be shorter than `ttl` (\(failover.ttl.zonalDescription)), or a healthy master loses its lease"
            )
        }
        if failover.fenceMargin * 2 > failover.ttl {
            report(
                "\(path).cache.fence_margin",
                "`fence_margin` (\(failover.fenceMargin.zonalDescription)) of service \(service.name) must be at most half the `ttl`")
        }
        if failover.ttl < .seconds(1) {
            report("\(path).cache.ttl", "`ttl` of service \(service.name) must be at least 1s: coordinator leases are granted in whole seconds")
        }
        if spec.minReplicasToWrite > service.nodes.count - 1 {
            report(
                "\(path).cache.min_replicas_to_write",
                "service \(service.name) wants \(spec.minReplicasToWrite) replicas to write but has only \(service.nodes.count - 1) nodes besides the master; it could never take a write"
            )
        }
        for node in spec.noFailover.sorted() where !service.nodes.contains(node) {
            report("\(path).cache.nofailover", "`nofailover` of service \(service.name) names \(node), which carries no instance of it")
        }
        if spec.noFailover.count >= service.nodes.count, !service.nodes.isEmpty {
            report("\(path).cache.nofailover", "every node of service \(service.name) is marked `nofailover`; no node could become master")
        }
    }

    mutating func cacheProxy(_ spec: CacheProxySpec, of service: Topology.Service) {
        let path = "services.\(service.name).proxy.cache"
        guard let backing = topology.services.first(where: { $0.name == spec.cache }) else {
            let names = Set(topology.services.map(\.name))
            report(path, "service \(service.name) proxies for \(spec.cache), which is not declared\(suggestion(spec.cache, among: names))")
            return
        }
        if case .redis = backing.kind { return }
        report(path, "service \(service.name) proxies for \(spec.cache), which is of kind `\(backing.kind.name)`, not `redis`")
    }
}
