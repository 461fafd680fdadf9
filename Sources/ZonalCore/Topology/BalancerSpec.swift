/// What a service of kind `balancer` runs: listeners, and the pools of servers behind them.
public struct BalancerSpec: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Layer 7: HTTP/1.1 requests balanced one by one.
        case http
        /// Layer 7 behind TLS, terminated by the balancer with the listener's certificate.
        case https
        /// Layer 4: TCP connections relayed byte for byte.
        case tcp
    }

    /// One listening port of every instance of the balancer.
    public struct Listener: Sendable, Hashable {
        public var name: String
        public var port: Int
        public var mode: Mode
        public var pool: String
        /// Certificate and key of an `https` listener.
        public var tls: TLSFiles?
        /// Whether an `http` or `https` listener also speaks HTTP/2 (prior knowledge, ALPN `h2`).
        public var http2: Bool

        public init(name: String, port: Int, mode: Mode = .http, pool: String, tls: TLSFiles? = nil, http2: Bool = true) {
            self.name = name
            self.port = port
            self.mode = mode
            self.pool = pool
            self.tls = tls
            self.http2 = http2
        }
    }

    /// PEM files of a TLS listener, read at start and again when they change or on reload.
    public struct TLSFiles: Sendable, Hashable {
        /// The certificate chain, leaf first.
        public var certificate: String
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// A server named directly rather than taken from a service.
    public struct Server: Sendable, Hashable {
        public var name: String?
        public var address: String
        public var port: Int
        public var zone: String
        public var weight: Int

        public init(name: String? = nil, address: String, port: Int, zone: String, weight: Int = 1) {
            self.name = name
            self.address = address
            self.port = port
            self.zone = zone
            self.weight = weight
        }
    }

    public struct Persistence: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case none
            case sourceIP = "source_ip"
            case cookie
            /// By an existing application cookie (a session id): its value is hashed onto the
            /// servers, so every instance sends one session to one server without shared state.
            case appCookie = "app_cookie"
        }

        public var kind: Kind
        /// Name of the inserted cookie (default `ZONALSRV`), or of the application's cookie for
        /// `app_cookie` (required there).
        public var cookie: String?
        /// How long a client keeps its server without a request. Default 1000 s.
        public var timeout: Duration

        public init(kind: Kind = .none, cookie: String? = nil, timeout: Duration = .seconds(1000)) {
            self.kind = kind
            self.cookie = cookie
            self.timeout = timeout
        }
    }

    /// Passive health: consecutive failures eject a server for a growing period.
    public struct Outliers: Sendable, Hashable {
        public var consecutiveFailures: Int
        public var baseEjection: Duration
        public var maxEjection: Duration

        public init(consecutiveFailures: Int = 5, baseEjection: Duration = .seconds(10), maxEjection: Duration = .seconds(300)) {
            self.consecutiveFailures = consecutiveFailures
            self.baseEjection = baseEjection
            self.maxEjection = maxEjection
        }
    }

    public struct Pool: Sendable, Hashable {
        public var name: String
        /// A service whose instances are the servers (address, service port, zone).
        public var service: String?
        /// Servers named directly.
        public var servers: [Server]
        public var scheduling: BalancerScheduling
        public var persistence: Persistence
        /// Default: the service's `primary_zone`.
        public var primaryZone: String?
        /// Default: the service's `secondary_zone`.
        public var secondaryZone: String?
        /// Other servers tried when one fails before answering. Default 2.
        public var retries: Int
        /// Default 1 s.
        public var connectTimeout: Duration
        /// Time the primary zone must stay healthy before traffic fails back. Default 5 s.
        public var failbackHoldDown: Duration
        public var outliers: Outliers
        /// Default: the service's health check; for `servers`, a TCP connect every second.
        public var health: HealthCheckSpec?
        /// For a pool of a `postgres` service: send connections to the primary or to the
        /// replicas, as the database agents publish them in the coordinator (no health checks).
        public var role: DatabaseSpec.Role?

        public init(
            name: String, service: String? = nil, servers: [Server] = [], scheduling: BalancerScheduling = .roundRobin,
            persistence: Persistence = .init(), primaryZone: String? = nil, secondaryZone: String? = nil, retries: Int = 2,
            connectTimeout: Duration = .seconds(1), failbackHoldDown: Duration = .seconds(5), outliers: Outliers = .init(),
            health: HealthCheckSpec? = nil
        ) {
            self.name = name
            self.service = service
            self.servers = servers
            self.scheduling = scheduling
            self.persistence = persistence
            self.primaryZone = primaryZone
            self.secondaryZone = secondaryZone
            self.retries = retries
            self.connectTimeout = connectTimeout
            self.failbackHoldDown = failbackHoldDown
            self.outliers = outliers
            self.health = health
        }
    }

    public var listeners: [Listener]
    public var pools: [Pool]
    public var http: HTTPSpec
    public var connections: ConnectionLimits
    /// A token of this balancer's own for its admin API, instead of the admin token `zonal up`
    /// generates (for instances run outside `zonal up`). Either way the admin API wants one.
    public var adminToken: String?

    public init(listeners: [Listener], pools: [Pool], http: HTTPSpec = .init(), connections: ConnectionLimits = .init(), adminToken: String? = nil) {
        self.connections = connections
        self.listeners = listeners
        self.pools = pools
        self.http = http
        self.adminToken = adminToken
    }
}

/// How a pool picks a server for a new request or connection.
public enum BalancerScheduling: String, Sendable, Hashable, CaseIterable {
    /// Smooth weighted round robin (default).
    case roundRobin = "round_robin"
    /// Fewest active connections per unit of weight.
    case leastConnections = "least_connections"
    /// Consistent hashing of the client address: a client keeps its server.
    case sourceHash = "source_hash"
}

/// Limits on what a client may send, checked on the request head before any server is
/// involved, so an oversized request costs the servers nothing.
public struct RequestLimits: Sendable, Hashable {
    /// Largest request head (request line and headers), in bytes. Default 16 KiB, like HAProxy's
    /// buffer; larger heads get 431.
    public var maxHeaderBytes: Int
    /// Largest request body, in bytes; 0 means no limit. Default 0. Larger bodies get 413.
    public var maxBodyBytes: Int

    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 0) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Limits on the client connections of every listener of a balancer instance, against
/// clients that open many connections or hold them open doing nothing.
public struct ConnectionLimits: Sendable, Hashable {
    /// Client connections one listener serves at once; beyond it new ones wait in the kernel's
    /// accept queue until one closes, as with HAProxy's `maxconn`. Default 10,000.
    public var maxConnections: Int
    /// A TCP-mode connection that carried no byte either way for this long is closed (HAProxy's
    /// `timeout client`). Default 1 h.
    public var tcpIdleTimeout: Duration
    /// Connections of a listener that a reload removed or replaced may finish for this long
    /// before they are closed. Default 30 s.
    public var drainTimeout: Duration

    public init(maxConnections: Int = 10_000, tcpIdleTimeout: Duration = .seconds(3600), drainTimeout: Duration = .seconds(30)) {
        self.maxConnections = maxConnections
        self.tcpIdleTimeout = tcpIdleTimeout
        self.drainTimeout = drainTimeout
    }
}

/// How an HTTP listener treats its clients and servers.
public struct HTTPSpec: Sendable, Hashable {
    public var limits: RequestLimits
    /// Time a client has to send a whole request head once it started one (slowloris). Default 10 s.
    public var headerTimeout: Duration
    /// Time an idle kept-alive client connection stays open. Default 60 s.
    public var keepAliveTimeout: Duration
    /// Time a server may stay silent while a request waits for it. Default 60 s.
    public var serverTimeout: Duration
    /// Time an upgraded connection (WebSocket and other `Upgrade` protocols) may carry no byte
    /// either way before both ends are closed. Default 1 h.
    public var tunnelTimeout: Duration
    /// Sent to servers in `X-Forwarded-Proto` and `Forwarded`.
    public var scheme: String

    public init(
        limits: RequestLimits = .init(),
        headerTimeout: Duration = .seconds(10),
        keepAliveTimeout: Duration = .seconds(60),
        serverTimeout: Duration = .seconds(60),
        tunnelTimeout: Duration = .seconds(3600),
        scheme: String = "http"
    ) {
        self.limits = limits
        self.headerTimeout = headerTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.serverTimeout = serverTimeout
        self.tunnelTimeout = tunnelTimeout
        self.scheme = scheme
    }
}
