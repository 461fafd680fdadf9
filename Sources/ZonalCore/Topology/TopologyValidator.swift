import Foundation

/// Checks the references and constraints between the parts of a topology: names are unique,
/// every zone, node and placement exists, no two listeners share an address and port, and the
/// failover zones make sense. Works on topologies built in code too (problems then carry no line).
public enum TopologyValidator {
    public static func problems(in topology: Topology, sourceMap: TopologySourceMap = .init()) -> [TopologyProblem] {
        var check = Checker(topology: topology, sourceMap: sourceMap)
        check.regionsAndZones()
        check.nodes()
        check.services()
        check.reportDuplicates(topology.backups.map(\.name), kind: "backup policy", pathPrefix: "backups")
        check.backupRepositories()
        check.listenersDoNotClash()
        check.coordinator()
        check.supervisor()
        return check.problems
    }

    /// Throws a ``TopologyError`` listing every problem, if there is any.
    public static func validate(_ topology: Topology, sourceMap: TopologySourceMap = .init()) throws(TopologyError) {
        let found = problems(in: topology, sourceMap: sourceMap)
        if !found.isEmpty { throw TopologyError(file: nil, problems: found) }
    }
}

struct Checker {
    let topology: Topology
    let sourceMap: TopologySourceMap
    var problems: [TopologyProblem] = []

    mutating func report(_ path: String, _ message: String) {
        problems.append(TopologyProblem(line: sourceMap[path], message))
    }

    /// Reports each name declared more than once, at the line of its second declaration.
    mutating func reportDuplicates(_ names: [String], kind: String, pathPrefix: String) {
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            let lines = sourceMap.lines(of: "\(pathPrefix).\(name)")
            let first = lines.first.map { " (first declared on line \($0))" } ?? ""
            problems.append(
                TopologyProblem(
                    line: lines.dropFirst().first ?? lines.first,
                    "duplicate \(kind) name `\(name)`\(first); \(kind) names must be unique"))
        }
    }

    /// A policy's `store:` repository names a store of this topology.
    mutating func backupRepositories() {
        for policy in topology.backups {
            let path = "backups.\(policy.name).repository"
            do {
                guard let reference = try ObjectStoreReference(parsing: policy.repository) else { continue }
                storeReference(reference, at: path, of: "the repository of backup policy \(policy.name)")
            } catch {
                report(path, "the repository of backup policy \(policy.name): \(error)")
            }
        }
    }

    mutating func regionsAndZones() {
        if topology.regions.isEmpty { report("regions", "the topology declares no regions; declare at least one region with one zone") }
        reportDuplicates(topology.regions.map(\.name), kind: "region", pathPrefix: "regions")
        for region in topology.regions where region.zones.isEmpty {
            report("regions.\(region.name)", "region \(region.name) has no zones; a region needs at least one zone")
        }
        var zoneRegion: [String: String] = [:]
        for region in topology.regions {
            for zone in region.zones {
                if let other = zoneRegion[zone] {
                    let lines = sourceMap.lines(of: "zones.\(zone)")
                    let placement = other == region.name ? "twice in region \(region.name)" : "in both region \(other) and region \(region.name)"
                    problems.append(
                        TopologyProblem(
                            line: lines.dropFirst().first ?? lines.first,
                            "zone \(zone) is declared \(placement); a zone belongs to exactly one region"))
                } else {
                    zoneRegion[zone] = region.name
                }
            }
        }
    }

    mutating func nodes() {
        reportDuplicates(topology.nodes.map(\.name), kind: "node", pathPrefix: "nodes")
        let zones = Set(topology.zoneNames)
        for node in topology.nodes {
            if !zones.contains(node.zone) {
                report("nodes.\(node.name).zone", "node \(node.name) is in zone \(node.zone), which no region declares\(suggestion(node.zone, among: zones))")
            }
            if !IPAddressText.isValid(node.address) {
                report("nodes.\(node.name).address", "address \"\(node.address)\" of node \(node.name) is not an IPv4 or IPv6 address")
            }
        }
    }

    mutating func services() {
        reportDuplicates(topology.services.map(\.name), kind: "service", pathPrefix: "services")
        let zones = Set(topology.zoneNames)
        let nodes = Set(topology.nodes.map(\.name))
        for service in topology.services {
            let path = "services.\(service.name)"
            var placed: Set<String> = []
            for node in service.nodes {
                if !nodes.contains(node) {
                    report("\(path).nodes.\(node)", "service \(service.name) is placed on node \(node), which is not declared\(suggestion(node, among: nodes))")
                } else if !placed.insert(node).inserted {
                    report("\(path).nodes.\(node)", "service \(service.name) is placed on node \(node) twice")
                }
            }
            for zone in placementZones(of: service) where !zones.contains(zone) {
                report("\(path).zones.\(zone)", "service \(service.name) is placed in zone \(zone), which no region declares\(suggestion(zone, among: zones))")
            }
            if service.adminPort == service.port {
                report("\(path).admin_port", "service \(service.name) uses port \(service.port) for both `port` and `admin_port`; they must differ")
            }
            failoverZones(of: service, knownZones: zones)
            healthCheck(of: service)
            if case .balancer(let spec) = service.kind { balancer(spec, of: service, knownZones: zones) }
            if case .postgres(let spec) = service.kind { database(spec, of: service) }
            if case .dns(let spec) = service.kind { dns(spec, of: service) }
            if case .redis(let spec) = service.kind { cache(spec, of: service) }
            if case .redisProxy(let spec) = service.kind { cacheProxy(spec, of: service) }
            if case .objectStore(let spec) = service.kind { objectStore(spec, of: service) }
            if case .s3(let spec) = service.kind { s3Gateway(spec, of: service) }
        }
    }

    /// Zones named in a `zones:` placement, recovered from the source map (the model keeps only nodes).
    private func placementZones(of service: Topology.Service) -> [String] {
        sourceMap.paths(withPrefix: "services.\(service.name).zones.")
    }

    private mutating func failoverZones(of service: Topology.Service, knownZones: Set<String>) {
        let path = "services.\(service.name)"
        let serviceZones = Set(service.nodes.compactMap { topology.node(named: $0)?.zone })
        for (key, zone) in [("primary_zone", service.primaryZone), ("secondary_zone", service.secondaryZone)] {
            guard let zone else { continue }
            if !knownZones.contains(zone) {
                report("\(path).\(key)", "`\(key)` of service \(service.name) is \(zone), which no region declares\(suggestion(zone, among: knownZones))")
            } else if !serviceZones.contains(zone) {
                report("\(path).\(key)", "`\(key)` of service \(service.name) is \(zone), but the service has no instance there; place it on a node in \(zone)")
            }
        }
        if let primary = service.primaryZone, primary == service.secondaryZone {
            report("\(path).secondary_zone", "service \(service.name) names \(primary) as both primary and secondary zone; failover needs two different zones")
        }
        if service.secondaryZone != nil && service.primaryZone == nil {
            report("\(path).secondary_zone", "service \(service.name) has a `secondary_zone` but no `primary_zone`")
        }
    }

    private mutating func healthCheck(of service: Topology.Service) {
        let health = service.health
        let path = "services.\(service.name).health"
        if health.timeout > health.interval * 10 {
            report(
                path,
                "health check timeout \(health.timeout.zonalDescription) of service \(service.name) is more than ten intervals (\(health.interval.zonalDescription)); a hung probe would hide failures for too long"
            )
        }
    }

    /// No two listeners on one address may share a port; an address of 0.0.0.0 or :: clashes with every address.
    mutating func listenersDoNotClash() {
        var owners: [String: [(address: String, owner: String, path: String)]] = [:]
        func claim(_ address: String, _ port: Int, owner: String, path: String) {
            owners["\(port)", default: []].append((address, owner, path))
        }
        for instance in topology.instances {
            let service = instance.service
            claim(instance.node.address, service.port, owner: "\(service.name)@\(instance.node.name) (port)", path: "services.\(service.name).port")
            if case .balancer(let spec) = service.kind {
                for listener in spec.listeners where listener.port != service.port {
                    claim(
                        instance.node.address, listener.port, owner: "\(service.name)@\(instance.node.name) (listener \(listener.name))",
                        path: "services.\(service.name).balancer.listeners.\(listener.name)")
                }
            }
            if case .redis(let spec) = service.kind, let sentinel = spec.sentinelPort(servicePort: service.port) {
                claim(
                    instance.node.address, sentinel, owner: "\(service.name)@\(instance.node.name) (sentinel_port)",
                    path: "services.\(service.name).cache.sentinel_port")
            }
            if let admin = service.adminPort {
                claim(instance.node.address, admin, owner: "\(service.name)@\(instance.node.name) (admin_port)", path: "services.\(service.name).admin_port")
            }
        }
        let supervisor = topology.supervisor
        claim(supervisor.controlHost, supervisor.controlPort, owner: "the supervisor control API", path: "supervisor.control")
        if topology.coordinator.backend == .embedded {
            claim(topology.coordinator.host, topology.coordinator.port, owner: "the embedded coordinator", path: "coordinator")
        }
        for (port, claims) in owners.sorted(by: { Int($0.key)! < Int($1.key)! }) {
            for (index, claim) in claims.enumerated() {
                guard let earlier = claims[..<index].first(where: { IPAddressText.overlap($0.address, claim.address) }) else { continue }
                report(claim.path, "port clash: \(claim.owner) and \(earlier.owner) both listen on \(claim.address):\(port)")
            }
        }
    }

    mutating func coordinator() {
        let coordinator = topology.coordinator
        switch coordinator.backend {
        case .embedded where !coordinator.endpoints.isEmpty:
            report("coordinator", "the embedded coordinator takes no `endpoints`; set `backend: etcd` to use an etcd cluster")
        case .embedded where !IPAddressText.isLoopback(coordinator.host):
            report("coordinator", "the embedded coordinator is served on loopback only (127.0.0.0/8 or ::1), not \(coordinator.host); use etcd across machines")
        case .embedded where coordinator.localCluster:
            report("coordinator", "`local_cluster` runs etcd members; it goes with `backend: etcd`")
        case .etcd
        where coordinator.localCluster && !coordinator.endpoints.isEmpty && !topology.services.contains(where: { $0.name == LocalEtcdCluster.serviceName }):
            report("coordinator", "with `local_cluster: true` the endpoints are the local members'; remove `endpoints`")
        case .etcd where coordinator.endpoints.isEmpty && !coordinator.localCluster:
            report("coordinator", "`backend: etcd` needs `endpoints`, such as [http://127.0.0.1:2379], or `local_cluster: true`")
        default:
            break
        }
        for endpoint in coordinator.endpoints {
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.port != nil else {
                report("coordinator", "etcd endpoint \"\(endpoint)\" must look like http://HOST:PORT")
                continue
            }
        }
        if coordinator.backend == .embedded && (coordinator.user != nil || coordinator.passwordFile != nil || coordinator.tls != nil) {
            report(
                "coordinator", "`user`, `password_file` and `tls` are for `backend: etcd`; the embedded coordinator wants the admin token zonal up generates")
        }
        if (coordinator.user == nil) != (coordinator.passwordFile == nil) {
            report("coordinator", "etcd authentication needs both `user` and `password_file`")
        }
        if let tls = coordinator.tls, (tls.certificate == nil) != (tls.key == nil) {
            report("coordinator", "a client certificate needs both `tls.certificate` and `tls.key`")
        }
        if coordinator.tls != nil, coordinator.endpoints.contains(where: { $0.hasPrefix("http://") }) {
            report("coordinator", "with `tls` every etcd endpoint must be https://")
        }
    }

    mutating func supervisor() {
        let supervisor = topology.supervisor
        if !IPAddressText.isLoopback(supervisor.controlHost) {
            report(
                "supervisor.control",
                "the supervisor control API must listen on a loopback address (127.0.0.0/8 or ::1), not \(supervisor.controlHost): it can kill every process of the topology"
            )
        }
        let restart = supervisor.restart
        if restart.maxBackoff < restart.initialBackoff {
            report(
                "supervisor.restart",
                "`max_backoff` (\(restart.maxBackoff.zonalDescription)) is shorter than `initial_backoff` (\(restart.initialBackoff.zonalDescription))")
        }
    }

    func suggestion(_ name: String, among names: Set<String>) -> String {
        guard let closest = names.min(by: { editDistance($0, name) < editDistance($1, name) }),
            editDistance(closest, name) <= 2
        else {
            return names.isEmpty ? "" : "; declared: \(names.sorted().joined(separator: ", "))"
        }
        return " (did you mean \(closest)?)"
    }
}
