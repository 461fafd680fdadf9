/// Checks of a balancer's `balancer` section against the rest of the topology.
extension Checker {
    mutating func balancer(_ spec: BalancerSpec, of service: Topology.Service, knownZones: Set<String>) {
        let path = "services.\(service.name).balancer"
        let subject = "service \(service.name)"
        reportDuplicates(spec.pools.map(\.name), kind: "pool", pathPrefix: "\(path).pools")
        reportDuplicates(spec.listeners.map(\.name), kind: "listener", pathPrefix: "\(path).listeners")
        if spec.pools.isEmpty { report(path, "\(subject) is a balancer without pools; add a pool with a `service` or `servers`") }
        let pools = Set(spec.pools.map(\.name))
        var ports: [Int: String] = [:]
        for listener in spec.listeners {
            let listenerPath = "\(path).listeners.\(listener.name)"
            if !pools.contains(listener.pool) {
                report(
                    listenerPath,
                    "listener \(listener.name) of \(subject) uses pool \(listener.pool), which is not declared\(suggestion(listener.pool, among: pools))")
            }
            if listener.mode == .https && listener.tls == nil {
                report(listenerPath, "listener \(listener.name) of \(subject) is `https` and needs `tls: { certificate: FILE, key: FILE }` (PEM)")
            }
            if listener.mode != .https && listener.tls != nil {
                report(listenerPath, "listener \(listener.name) of \(subject) has `tls` but is `\(listener.mode.rawValue)`; set `mode: https`")
            }
            if let other = ports[listener.port] {
                report(listenerPath, "listeners \(other) and \(listener.name) of \(subject) both use port \(listener.port)")
            }
            ports[listener.port] = listener.name
        }
        if !spec.listeners.isEmpty && !spec.listeners.contains(where: { $0.port == service.port }) {
            report(
                "services.\(service.name).port",
                "`port` \(service.port) of \(subject) is none of its listeners' ports (\(spec.listeners.map { String($0.port) }.joined(separator: ", "))); it is the port health checks probe"
            )
        }
        for pool in spec.pools { balancerPool(pool, of: service, spec: spec, knownZones: knownZones) }
    }

    private mutating func balancerPool(_ pool: BalancerSpec.Pool, of service: Topology.Service, spec: BalancerSpec, knownZones: Set<String>) {
        let path = "services.\(service.name).balancer.pools.\(pool.name)"
        let subject = "pool \(pool.name) of service \(service.name)"
        var serverZones: Set<String> = []
        if let target = pool.service {
            let names = Set(topology.services.map(\.name))
            if target == service.name {
                report("\(path).service", "\(subject) names its own balancer as its servers")
            } else if let backing = topology.services.first(where: { $0.name == target }) {
                serverZones = Set(backing.nodes.compactMap { topology.node(named: $0)?.zone })
                if backing.nodes.isEmpty { report("\(path).service", "\(subject) uses service \(target), which has no instances") }
            } else {
                report("\(path).service", "\(subject) uses service \(target), which is not declared\(suggestion(target, among: names))")
            }
        }
        if pool.role != nil {
            let backing = pool.service.flatMap { name in topology.services.first { $0.name == name } }
            if case .postgres = backing?.kind {
            } else {
                report("\(path).role", "`role` of \(subject) is for pools whose `service` is of kind postgres")
            }
            for listener in spec.listeners where listener.pool == pool.name && listener.mode != .tcp {
                report(
                    "services.\(service.name).balancer.listeners.\(listener.name)",
                    "listener \(listener.name) of service \(service.name) carries PostgreSQL connections (pool \(pool.name) has a `role`) and needs `mode: tcp`"
                )
            }
        }
        for server in pool.servers {
            serverZones.insert(server.zone)
            if !knownZones.contains(server.zone) {
                report(
                    path,
                    "server \(server.address):\(server.port) of \(subject) is in zone \(server.zone), which no region declares\(suggestion(server.zone, among: knownZones))"
                )
            }
            if !IPAddressText.isValid(server.address) {
                report(path, "server address \"\(server.address)\" of \(subject) is not an IPv4 or IPv6 address")
            }
        }
        for (key, zone) in [("primary_zone", pool.primaryZone), ("secondary_zone", pool.secondaryZone)] {
            guard let zone, !serverZones.isEmpty else { continue }
            if !serverZones.contains(zone) {
                report(
                    "\(path).\(key)",
                    "`\(key)` of \(subject) is \(zone), but the pool has no server there; its servers are in \(serverZones.sorted().joined(separator: ", "))")
            }
        }
        if let primary = pool.primaryZone, primary == pool.secondaryZone {
            report("\(path).secondary_zone", "\(subject) names \(primary) as both primary and secondary zone; failover needs two different zones")
        }
        if pool.persistence.kind == .cookie || pool.persistence.kind == .appCookie {
            for listener in spec.listeners where listener.pool == pool.name && listener.mode == .tcp {
                report(
                    "\(path).persistence",
                    "\(subject) persists by cookie, but its listener \(listener.name) is TCP, where there are no cookies; use `source_ip`")
            }
        }
        if pool.persistence.kind == .appCookie && pool.persistence.cookie == nil {
            report(
                "\(path).persistence",
                "\(subject) persists by `app_cookie` and needs `cookie`: the name of the application's session cookie, such as JSESSIONID")
        }
        if pool.outliers.maxEjection < pool.outliers.baseEjection {
            report(path, "`max_ejection` of \(subject) is shorter than `base_ejection`")
        }
    }
}
