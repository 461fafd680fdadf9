import ZonalCore

/// What one DNS server instance runs, worked out from the topology: where it listens, its
/// zones (files resolved against the topology's directory, or generated), and every
/// health-checked name with its pools' addresses and the check of each.
public struct DNSPlan: Sendable {
    public var topology: String
    public var service: String
    public var node: String
    public var host: String
    public var port: Int
    public var adminPort: Int?
    public var zones: [ZonePlan]
    public var records: [RecordPlan]
    public var tcpIdleTimeout: Duration
    public var maxTCPConnections: Int

    public struct ZonePlan: Sendable {
        public var origin: DNSName
        /// The zone file to read; nil: SOA and NS made from the service's instances.
        public var file: String?
        /// The service's instances as the zone's name servers (`ns1.`, `ns2.`… with their
        /// addresses), for generated zones.
        public var nameServers: [(name: DNSName, address: [UInt8])]
        public var transferTo: [[UInt8]]
        public var notify: [(host: String, port: Int)]
    }

    public struct RecordPlan: Sendable {
        public var name: DNSName
        /// Every address healthy: the answer before the first check.
        public var definition: RouteAnswer
        /// The check of each member, by pool then member; nil where none applies.
        public var checks: [[Check?]]
    }

    /// How one address is probed: host, port and the check's settings.
    public struct Check: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var spec: HealthCheckSpec
    }

    /// The plan of the instance of DNS service `service` on `node`; relative zone files are
    /// found under `directory` (the topology file's).
    public init(topology: Topology, service serviceName: String, node nodeName: String, directory: String?) throws(DNSPlanError) {
        guard let service = topology.services.first(where: { $0.name == serviceName }) else {
            throw DNSPlanError("the topology has no service named \(serviceName)")
        }
        guard case .dns(let spec) = service.kind else { throw DNSPlanError("service \(serviceName) is of kind \(service.kind.name), not dns") }
        guard service.nodes.contains(nodeName), let node = topology.node(named: nodeName) else {
            throw DNSPlanError("service \(serviceName) has no instance on node \(nodeName); it runs on: \(service.nodes.joined(separator: ", "))")
        }
        self.topology = topology.name
        self.service = serviceName
        self.node = nodeName
        host = node.address
        port = service.port
        adminPort = service.adminPort
        tcpIdleTimeout = spec.tcpIdleTimeout
        maxTCPConnections = spec.maxTCPConnections
        let servers = topology.instances.filter { $0.service.name == serviceName }
        zones = try spec.zones.map { zone throws(DNSPlanError) in
            let origin = try Self.name(zone.name)
            let nameServers = try servers.enumerated().map { index, instance throws(DNSPlanError) in
                (try Self.name("ns\(index + 1).\(zone.name)"), try Self.address(instance.node.address))
            }
            let file = zone.file.map { path in path.hasPrefix("/") ? path : directory.map { "\($0)/\(path)" } ?? path }
            return ZonePlan(
                origin: origin, file: file, nameServers: nameServers,
                transferTo: try zone.transferTo.map { address throws(DNSPlanError) in try Self.address(address) },
                notify: zone.notify.compactMap(IPAddressText.parseHostPort))
        }
        records = try spec.records.map { record throws(DNSPlanError) in try Self.plan(of: record, in: topology) }
    }

    private static func plan(of record: DNSSpec.RecordSpec, in topology: Topology) throws(DNSPlanError) -> RecordPlan {
        var pools: [RouteAnswer.Pool] = []
        var checks: [[Check?]] = []
        for pool in record.pools {
            let members = topology.members(of: pool, health: record.health)
            pools.append(
                RouteAnswer.Pool(
                    name: pool.name,
                    members: try members.map { member throws(DNSPlanError) in RouteAnswer.Member(address: try address(member.address), weight: member.weight) },
                    weighted: pool.weighted))
            checks.append(
                members.map { member in
                    member.health.map { Check(host: member.address, port: member.port ?? 0, spec: $0) }
                })
        }
        let subnets = try record.subnets.map { subnet throws(DNSPlanError) in
            guard let prefix = AddressPrefix(parsing: subnet.prefix), let pool = record.pools.firstIndex(where: { $0.name == subnet.pool }) else {
                throw DNSPlanError("subnet \(subnet.prefix) of record \(record.name) is not a prefix of a pool of the record")
            }
            return RouteAnswer.SubnetRoute(prefix: prefix, pool: pool)
        }
        let whenAllDown: RouteAnswer.AllDown =
            switch record.whenAllDown {
            case .all: .all
            case .none: .none
            case .fixed(let addresses): .fixed(try addresses.map { address throws(DNSPlanError) in try Self.address(address) })
            }
        let ttl = UInt32(clamping: record.ttl.components.seconds)
        return RecordPlan(
            name: try name(record.name), definition: RouteAnswer(ttl: ttl, pools: pools, subnets: subnets, whenAllDown: whenAllDown), checks: checks)
    }

    static func name(_ text: String) throws(DNSPlanError) -> DNSName {
        do { return try DNSName(parsing: Substring(text.hasSuffix(".") ? text : text + "."), origin: nil) } catch { throw DNSPlanError(error.description) }
    }

    static func address(_ text: String) throws(DNSPlanError) -> [UInt8] {
        guard let bytes = IPAddressText.bytes(text) else { throw DNSPlanError("\"\(text)\" is not an IPv4 or IPv6 address") }
        return bytes
    }
}

public struct DNSPlanError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
