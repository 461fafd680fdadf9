/// The `dns` section of a service of kind `dns`: the zones it is authoritative for and its
/// health-checked records. Every instance serves the same zones on its node's address.
public struct DNSSpec: Sendable, Hashable {
    public var zones: [ZoneSpec]
    public var records: [RecordSpec]
    /// A TCP connection with no query under way for this long is closed. Default 10 s.
    public var tcpIdleTimeout: Duration
    /// TCP connections served at once; more wait in the accept queue. Default 1,024.
    public var maxTCPConnections: Int

    public init(zones: [ZoneSpec], records: [RecordSpec] = [], tcpIdleTimeout: Duration = .seconds(10), maxTCPConnections: Int = 1024) {
        self.zones = zones
        self.records = records
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxTCPConnections = maxTCPConnections
    }

    /// A zone served by the service.
    public struct ZoneSpec: Sendable, Hashable {
        /// The zone's apex, such as `zonal.test`.
        public var name: String
        /// A zone file (RFC 1035), relative to the topology file's directory. Nil: Zonal makes
        /// the SOA and NS records itself, the name servers being the service's instances.
        public var file: String?
        /// Addresses allowed to transfer the zone (AXFR, IXFR): its secondaries. Default none.
        public var transferTo: [String]
        /// `host:port` of secondaries sent a NOTIFY whenever the zone changes.
        public var notify: [String]

        public init(name: String, file: String? = nil, transferTo: [String] = [], notify: [String] = []) {
            self.name = name
            self.file = file
            self.transferTo = transferTo
            self.notify = notify
        }
    }

    /// A health-checked name: its addresses come from pools, the first with a healthy address
    /// answering (or the client's subnet's pool first).
    public struct RecordSpec: Sendable, Hashable {
        /// The name, absolute (a trailing dot is optional), inside one of the zones.
        public var name: String
        /// TTL of the answers. Default 30 s: clients move within a TTL of a failover.
        public var ttl: Duration
        /// In failover order.
        public var pools: [PoolSpec]
        /// Client subnets that prefer a pool.
        public var subnets: [SubnetRoute]
        public var whenAllDown: AllDown
        /// How each address is checked. Nil: a pool of a service uses the service's check;
        /// addresses written out need one here, with a port.
        public var health: HealthCheckSpec?

        /// Clients in `prefix` (such as 10.1.0.0/16) get `pool` first.
        public struct SubnetRoute: Sendable, Hashable {
            public var prefix: String
            public var pool: String

            public init(prefix: String, pool: String) {
                self.prefix = prefix
                self.pool = pool
            }
        }

        public enum AllDown: Sendable, Hashable {
            case all
            case none
            case fixed([String])
        }

        public init(
            name: String, ttl: Duration = .seconds(30), pools: [PoolSpec], subnets: [SubnetRoute] = [], whenAllDown: AllDown = .all,
            health: HealthCheckSpec? = nil
        ) {
            self.name = name
            self.ttl = ttl
            self.pools = pools
            self.subnets = subnets
            self.whenAllDown = whenAllDown
            self.health = health
        }
    }

    /// Addresses of one pool: the instances of a service (in a region or zone), or written out.
    public struct PoolSpec: Sendable, Hashable {
        public var name: String
        public var service: String?
        public var region: String?
        public var zone: String?
        public var addresses: [Member]
        /// Answer one address per query in proportion to the weights, instead of all of them.
        /// Set when any address gives a `weight`.
        public var weighted: Bool

        public struct Member: Sendable, Hashable {
            public var address: String
            public var weight: Int

            public init(address: String, weight: Int = 1) {
                self.address = address
                self.weight = weight
            }
        }

        public init(name: String, service: String? = nil, region: String? = nil, zone: String? = nil, addresses: [Member] = [], weighted: Bool = false) {
            self.name = name
            self.service = service
            self.region = region
            self.zone = zone
            self.addresses = addresses
            self.weighted = weighted
        }
    }
}

extension Topology {
    /// The addresses of a pool with the port and check of each: its service's instances in the
    /// pool's region or zone, or the addresses written out with the record's check.
    public func members(of pool: DNSSpec.PoolSpec, health: HealthCheckSpec?) -> [(address: String, weight: Int, port: Int?, health: HealthCheckSpec?)] {
        guard let serviceName = pool.service else {
            return pool.addresses.map { ($0.address, $0.weight, nil, health) }
        }
        return instances.filter { instance in
            instance.service.name == serviceName && (pool.region.map { $0 == instance.region } ?? true) && (pool.zone.map { $0 == instance.node.zone } ?? true)
        }
        .map { ($0.node.address, 1, $0.service.port, health ?? $0.service.health) }
    }
}
