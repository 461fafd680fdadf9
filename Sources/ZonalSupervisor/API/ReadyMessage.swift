import ZonalCore

/// What `zonal up` prints once every instance is healthy (or the ready timeout passed): each
/// instance with its zone, health and addresses, where clients reach each balancer, the
/// coordinator, the control API and where the logs are.
public struct ReadyMessage: Sendable {
    public var report: StatusReport
    public var topology: Topology
    public var allHealthy: Bool
    public var stateDirectory: String

    public init(report: StatusReport, topology: Topology, allHealthy: Bool, stateDirectory: String) {
        self.report = report
        self.topology = topology
        self.allHealthy = allHealthy
        self.stateDirectory = stateDirectory
    }

    public var text: String {
        let healthy = report.instances.filter(\.isHealthy).count
        var lines = [
            allHealthy
                ? "topology \(report.topology) is up: \(healthy)/\(report.instances.count) instances healthy"
                : "topology \(report.topology) is running, but only \(healthy)/\(report.instances.count) instances are healthy"
        ]
        for instance in report.instances {
            let admin = instance.adminAddress.map { "  admin http://\($0)" } ?? ""
            lines.append(
                "  \(instance.id.padding(toLength: 21, withPad: " ", startingAt: 0)) \(instance.region)/\(instance.zone)  \(instance.health.padding(toLength: 9, withPad: " ", startingAt: 0)) http://\(instance.address)\(admin)"
            )
        }
        lines += Self.balancerLines(topology)
        lines += Self.dnsLines(topology)
        lines += Self.cacheLines(topology, stateDirectory: stateDirectory)
        lines += Self.objectsLines(topology)
        lines += Self.databaseBackupLines(topology)
        lines.append("coordinator: \(report.coordinator) at \(report.coordinator.endpoints.joined(separator: ", "))")
        lines.append("control API http://\(report.control)  (zonal status, zonal fail zone NAME, zonal recover zone NAME, zonal events)")
        lines.append("logs and events in \(stateDirectory); Ctrl-C stops everything")
        return lines.joined(separator: "\n")
    }

    /// Where each DNS server answers, for which zones, and a query to try.
    static func dnsLines(_ topology: Topology) -> [String] {
        topology.instances.compactMap { instance -> String? in
            guard case .dns(let spec) = instance.service.kind else { return nil }
            let zones = spec.zones.map(\.name).joined(separator: ", ")
            let example = spec.records.first?.name ?? spec.zones.first?.name ?? "."
            return
                "dns \(instance.id): udp+tcp \(IPAddressText.hostPort(instance.node.address, instance.service.port)) for \(zones)  (dig @\(instance.node.address) -p \(instance.service.port) \(example))"
        }
    }

    /// Where each database archives its WAL and keeps its base backups, and how to restore.
    static func databaseBackupLines(_ topology: Topology) -> [String] {
        topology.services.compactMap { service -> String? in
            guard case .postgres(let spec) = service.kind, let backup = spec.backup else { return nil }
            let target = backup.target.replacingOccurrences(of: "{service}", with: service.name)
            return "db \(service.name): WAL archive and base backups in \(target)  (zonal db restore --service \(service.name) --to-time TIME --into DIR)"
        }
    }

    /// Where clients reach each cache proxy, and where the password is.
    static func cacheLines(_ topology: Topology, stateDirectory: String) -> [String] {
        topology.instances.compactMap { instance -> String? in
            guard case .redisProxy(let spec) = instance.service.kind else { return nil }
            let address = instance.node.address
            let password = "\(stateDirectory)/\(spec.cache)/redis.password"
            return
                "cache \(instance.id): resp \(IPAddressText.hostPort(address, instance.service.port)) -> master of \(spec.cache)  (REDISCLI_AUTH=$(cat \(password)) redis-cli -h \(address) -p \(instance.service.port))"
        }
    }

    /// Where S3 clients reach each front end, and how they get the credentials.
    static func objectsLines(_ topology: Topology) -> [String] {
        topology.instances.compactMap { instance -> String? in
            guard case .s3(let spec) = instance.service.kind else { return nil }
            let region = spec.region ?? topology.regions.first { $0.zones.contains(instance.node.zone) }?.name ?? "us-east-1"
            let endpoint = "http://\(IPAddressText.hostPort(instance.node.address, instance.service.port))"
            return
                "s3 \(instance.id): \(endpoint) region \(region) -> store \(spec.store)  (eval \"$(zonal objects credentials --service \(spec.store))\"; aws --endpoint-url \(endpoint) --region \(region) s3 ls)"
        } + replicationLines(topology)
    }

    /// The replication rules the topology declares, and how to follow them.
    static func replicationLines(_ topology: Topology) -> [String] {
        topology.services.flatMap { service -> [String] in
            guard case .objectStore(let spec) = service.kind else { return [] }
            return spec.replication.map { rule in
                "replication \(rule.name): \(service.name)/\(rule.bucket)/\(rule.prefix) -> \(rule.toStore)/\(rule.toBucket ?? rule.bucket)  (zonal objects replication status --service \(service.name))"
            }
        }
    }

    /// Where clients reach each balancer, and which servers stand behind it.
    static func balancerLines(_ topology: Topology) -> [String] {
        topology.instances.flatMap { instance -> [String] in
            guard case .balancer(let spec) = instance.service.kind else { return [] }
            return spec.listeners.map { listener in
                let scheme = listener.mode == .tcp ? "tcp " : "\(listener.mode.rawValue)://"
                let pool = spec.pools.first { $0.name == listener.pool }
                let backing = pool?.service.flatMap { name in topology.services.first { $0.name == name } }
                let primary = pool?.primaryZone ?? backing?.primaryZone
                let secondary = pool?.secondaryZone ?? backing?.secondaryZone
                var zones = primary.map { "primary zone \($0)" + (secondary.map { ", secondary zone \($0)" } ?? "") } ?? "all zones"
                if let role = pool?.role, let service = pool?.service {
                    zones = role == .primary ? "PostgreSQL primary of \(service)" : "PostgreSQL replicas of \(service)"
                }
                return
                    "balancer \(instance.service.name) \(listener.name): \(scheme)\(IPAddressText.hostPort(instance.node.address, listener.port))  -> pool \(listener.pool) (\(zones))"
            }
        }
    }
}
