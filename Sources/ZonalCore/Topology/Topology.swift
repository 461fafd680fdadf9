import Foundation

/// A whole deployment: regions, the zones inside them, the nodes inside zones and the services
/// placed on nodes. One file describes it; every `zonal` role reads the same model.
public struct Topology: Sendable, Hashable {
    public var name: String
    public var coordinator: CoordinatorSpec
    public var supervisor: SupervisorSpec
    public var regions: [Region]
    public var nodes: [Node]
    public var services: [Service]
    /// Backups `zonal up` takes on a schedule.
    public var backups: [BackupSpec]

    public init(
        name: String,
        coordinator: CoordinatorSpec = .init(),
        supervisor: SupervisorSpec = .init(),
        regions: [Region],
        nodes: [Node],
        services: [Service],
        backups: [BackupSpec] = []
    ) {
        self.backups = backups
        self.name = name
        self.coordinator = coordinator
        self.supervisor = supervisor
        self.regions = regions
        self.nodes = nodes
        self.services = services
    }
}

extension Topology {
    /// A geographic site. Regions are far apart, so replication between them is asynchronous.
    public struct Region: Sendable, Hashable {
        public var name: String
        /// Failure domains inside this region, each with its own power and network.
        public var zones: [String]

        public init(name: String, zones: [String]) {
            self.name = name
            self.zones = zones
        }
    }

    /// A machine (or, on one machine, a loopback address standing for one) inside a zone.
    public struct Node: Sendable, Hashable {
        public var name: String
        public var zone: String
        /// The IP address this node's services listen on.
        public var address: String

        public init(name: String, zone: String, address: String) {
            self.name = name
            self.zone = zone
            self.address = address
        }
    }

    /// A service: one instance on each node it is placed on.
    public struct Service: Sendable, Hashable {
        /// What the supervisor runs for each instance.
        public enum Kind: Sendable, Hashable {
            /// The built-in sample application backend (`zonal app`).
            case app
            /// Any program; `{address}`, `{port}`, `{admin_port}`, `{node}`, `{zone}`, `{region}`
            /// and `{service}` in the arguments are replaced per instance.
            case process(command: [String])
            /// A Zonal load balancer (`zonal balancer`) in front of other services.
            case balancer(BalancerSpec)
            /// A highly available PostgreSQL cluster: a server and its agent (`zonal db agent`) per node.
            case postgres(DatabaseSpec)
            /// An authoritative DNS server with health-checked records (`zonal dns serve`).
            case dns(DNSSpec)
            /// A highly available Redis: a server and its agent (`zonal cache agent`) per node.
            case redis(CacheSpec)
            /// A RESP proxy in front of a `redis` service (`zonal cache proxy`).
            case redisProxy(CacheProxySpec)
            /// Storage nodes of zone-redundant object storage (`zonal objects node`).
            case objectStore(ObjectStoreSpec)
            /// An S3 front end in front of an `object-store` service (`zonal objects s3`).
            case s3(S3GatewaySpec)

            /// The name used in topology files.
            public var name: String {
                switch self {
                case .app: "app"
                case .process: "process"
                case .balancer: "balancer"
                case .postgres: "postgres"
                case .dns: "dns"
                case .redis: "redis"
                case .redisProxy: "redis-proxy"
                case .objectStore: "object-store"
                case .s3: "s3"
                }
            }
        }

        public var name: String
        public var kind: Kind
        /// The node names carrying one instance each, after expanding zone placements.
        public var nodes: [String]
        public var port: Int
        /// A second port for metrics, health and operator endpoints; nil when the service has none.
        public var adminPort: Int?
        /// The zone that takes traffic while it has a healthy instance.
        public var primaryZone: String?
        /// The zone that takes traffic only while the primary zone has no healthy instance.
        public var secondaryZone: String?
        public var health: HealthCheckSpec

        public init(
            name: String,
            kind: Kind,
            nodes: [String],
            port: Int,
            adminPort: Int? = nil,
            primaryZone: String? = nil,
            secondaryZone: String? = nil,
            health: HealthCheckSpec
        ) {
            self.name = name
            self.kind = kind
            self.nodes = nodes
            self.port = port
            self.adminPort = adminPort
            self.primaryZone = primaryZone
            self.secondaryZone = secondaryZone
            self.health = health
        }
    }
}

/// Which coordinator holds leadership and cluster state.
public struct CoordinatorSpec: Sendable, Hashable {
    public enum Backend: String, Sendable, Hashable, CaseIterable {
        /// A single-process coordinator run by `zonal up`; the default on one machine.
        case embedded
        /// An external etcd v3 cluster, for deployments across machines.
        case etcd
    }

    public var backend: Backend
    /// etcd client endpoints (`http://host:port`); empty for the embedded backend.
    public var endpoints: [String]
    /// Loopback address where `zonal up` serves the embedded coordinator. Default 127.0.0.1.
    public var host: String
    /// Port of the embedded coordinator. Default 7379.
    public var port: Int
    /// With `backend: etcd`: `zonal up` runs an etcd member on the first node of each of up to
    /// three zones (a service named `etcd`), and the endpoints are theirs. Default false.
    public var localCluster: Bool
    /// With `backend: etcd` and authentication enabled there: the etcd user. Nil: no auth.
    public var user: String?
    /// The file holding `user`'s password (owner-only, as ssh wants keys).
    public var passwordFile: String?
    /// With `https://` endpoints: the CA that signed etcd's certificates, and this client's
    /// certificate and key when etcd wants client certificates (`--client-cert-auth`).
    public var tls: TLSFiles?

    /// PEM files of a TLS client.
    public struct TLSFiles: Sendable, Hashable {
        public var ca: String
        public var certificate: String?
        public var key: String?

        public init(ca: String, certificate: String? = nil, key: String? = nil) {
            self.ca = ca
            self.certificate = certificate
            self.key = key
        }
    }

    public init(
        backend: Backend = .embedded, endpoints: [String] = [], host: String = "127.0.0.1", port: Int = 7379, localCluster: Bool = false,
        user: String? = nil, passwordFile: String? = nil, tls: TLSFiles? = nil
    ) {
        self.backend = backend
        self.endpoints = endpoints
        self.host = host
        self.port = port
        self.localCluster = localCluster
        self.user = user
        self.passwordFile = passwordFile
        self.tls = tls
    }

    /// The endpoints a client uses: etcd's, or the embedded coordinator's own address.
    public var clientEndpoints: [String] {
        switch backend {
        case .etcd: endpoints
        case .embedded: ["http://\(IPAddressText.hostPort(host, port))"]
        }
    }
}

extension Topology {
    /// The state directory `zonal up` uses when not told otherwise: `state_dir`, or
    /// `.zonal/<name>`. Commands look for the admin token there.
    public var defaultStateDirectory: String {
        supervisor.stateDirectory ?? ".zonal/\(name)"
    }
}

/// How `zonal up` runs the topology on one machine.
public struct SupervisorSpec: Sendable, Hashable {
    /// Loopback host of the control API that `zonal status`, `fail` and `recover` talk to.
    public var controlHost: String
    /// Port of the control API. Default 7300.
    public var controlPort: Int
    /// Where logs, events and process state go; relative paths are relative to the working
    /// directory of `zonal up`. Default `.zonal/<topology name>`.
    public var stateDirectory: String?
    /// Restart delays for crashed processes.
    public var restart: RestartSpec
    /// Limits of every HTTP API of the topology's processes (control API, coordinator,
    /// balancer admin, database agents, the app's admin port).
    public var api: APILimits

    public init(
        controlHost: String = "127.0.0.1",
        controlPort: Int = 7300,
        stateDirectory: String? = nil,
        restart: RestartSpec = .init(),
        api: APILimits = .init()
    ) {
        self.controlHost = controlHost
        self.controlPort = controlPort
        self.stateDirectory = stateDirectory
        self.restart = restart
        self.api = api
    }
}

/// What a Zonal HTTP API allows one client, so that opening connections and sending nothing
/// cannot exhaust a control process (the data ports have limits of their own).
public struct APILimits: Sendable, Hashable {
    /// Connections served at once; more wait in the kernel's accept queue. Default 256.
    public var maxConnections: Int
    /// A connection with no request under way for this long is closed. Default 60 s.
    public var idleTimeout: Duration
    /// Who may read `/metrics` without the admin token. Default ``MetricsAccess/loopback``.
    public var metrics: MetricsAccess

    public init(maxConnections: Int = 256, idleTimeout: Duration = .seconds(60), metrics: MetricsAccess = .loopback) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.metrics = metrics
    }
}

/// Who may read a process's `/metrics` without the admin token. Metrics name every service,
/// node and backend, which is a map of the estate: by default only this machine sees them.
public enum MetricsAccess: String, Sendable, Hashable, CaseIterable {
    /// Clients connecting from a loopback address (a Prometheus on the same machine).
    case loopback
    /// Anyone who reaches the listener (a Prometheus elsewhere on a network you trust).
    case anyone
    /// Only requests carrying the admin token, wherever they come from.
    case token

    /// Whether a request from `peer` (an IP address in text, nil when not known) may read
    /// metrics without the token. An unknown peer is not loopback: closed unless `anyone`.
    public func admitsWithoutToken(peer: String?) -> Bool {
        switch self {
        case .anyone: true
        case .token: false
        case .loopback: peer.map(IPAddressText.isLoopback) ?? false
        }
    }
}

/// Exponential restart backoff, as in systemd's and Kubernetes' crash loops.
public struct RestartSpec: Sendable, Hashable {
    /// Delay before the first restart of a crashed process. Default 200 ms.
    public var initialBackoff: Duration
    /// The delay doubles on each crash in a row up to this cap. Default 30 s.
    public var maxBackoff: Duration
    /// A process that ran this long is considered stable and its backoff resets. Default 10 s.
    public var stableAfter: Duration

    public init(
        initialBackoff: Duration = .milliseconds(200),
        maxBackoff: Duration = .seconds(30),
        stableAfter: Duration = .seconds(10)
    ) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.stableAfter = stableAfter
    }

    /// The delays as a ``Backoff``, without jitter: a crash loop's restarts are meant to be
    /// predictable, and one supervisor's children do not retry against a shared server.
    public var backoff: Backoff {
        Backoff(initial: initialBackoff, maximum: maxBackoff, jitter: 0)
    }
}

extension Topology {
    /// One running copy of a service on one node, with everything needed to start and probe it.
    public struct Instance: Sendable, Hashable, Identifiable {
        public var id: String { "\(service.name)@\(node.name)" }
        public var service: Service
        public var node: Node
        public var region: String
    }

    /// Every service instance, in file order (services, then their nodes).
    public var instances: [Instance] {
        services.flatMap { service in
            service.nodes.compactMap { nodeName -> Instance? in
                guard let node = node(named: nodeName) else { return nil }
                return Instance(service: service, node: node, region: region(ofZone: node.zone) ?? "")
            }
        }
    }

    public func node(named name: String) -> Node? {
        nodes.first { $0.name == name }
    }

    /// The region a zone belongs to.
    public func region(ofZone zone: String) -> String? {
        regions.first { $0.zones.contains(zone) }?.name
    }

    public var zoneNames: [String] {
        regions.flatMap(\.zones)
    }
}

extension Topology.Instance {
    /// Fills the per-instance placeholders of a command template: `{address}`, `{port}`,
    /// `{admin_port}`, `{node}`, `{zone}`, `{region}`, `{service}`, and `{state_dir}` when given.
    public func expand(_ template: String, stateDirectory: String? = nil) -> String {
        var values: [(String, String)] = [
            ("{address}", node.address), ("{port}", String(service.port)), ("{node}", node.name),
            ("{zone}", node.zone), ("{region}", region), ("{service}", service.name),
        ]
        if let admin = service.adminPort { values.append(("{admin_port}", String(admin))) }
        if let stateDirectory { values.append(("{state_dir}", stateDirectory)) }
        return values.reduce(template) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    /// The address and port that clients use, as `host:port` (IPv6 in brackets).
    public var endpoint: String {
        IPAddressText.hostPort(node.address, service.port)
    }
}
