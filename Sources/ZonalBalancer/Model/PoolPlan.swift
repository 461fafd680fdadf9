import ZonalCore

/// A pool of servers behind one or more listeners, and how the balancer picks among them.
public struct PoolPlan: Sendable, Hashable {
    public typealias Scheduling = BalancerScheduling

    /// How a client is kept on the server it was first sent to.
    public enum Persistence: Sendable, Hashable {
        /// Every request or connection is balanced on its own (default).
        case none
        /// By client address, in a table shared by the pool's balancer instances; an entry
        /// lapses after `timeout` without use.
        case sourceAddress(timeout: Duration)
        /// By a cookie the balancer inserts into HTTP responses (HTTP listeners only).
        case cookie(PersistenceCookie)
        /// By consistent hashing of an application cookie's value (HTTP listeners only); a
        /// request without it is balanced as usual.
        case applicationCookie(name: String)

        /// The name used in topology files.
        public var name: String {
            switch self {
            case .none: "none"
            case .sourceAddress: "source_ip"
            case .cookie: "cookie"
            case .applicationCookie: "app_cookie"
            }
        }
    }

    public var name: String
    public var backends: [Backend]
    public var scheduling: Scheduling
    public var persistence: Persistence
    /// The zone that takes traffic while it has a healthy server; nil: every zone.
    public var primaryZone: String?
    /// The zone that takes traffic only while the primary has none.
    public var secondaryZone: String?
    /// Other servers tried when one fails before answering. Default 2.
    public var retries: Int
    /// Time allowed to connect to a server before trying another. Default 1 s.
    public var connectTimeout: Duration
    /// Active checks run against every server; nil runs none (servers count as up).
    public var healthCheck: HealthCheckSpec?
    public var failover: ZoneFailoverPolicy.Settings
    public var outliers: OutlierDetector.Settings
    /// For a PostgreSQL pool: which role's servers take connections, learned from the
    /// coordinator instead of health checks.
    public var databaseRouting: DatabaseRouting?

    public struct DatabaseRouting: Sendable, Hashable {
        /// The `postgres` service whose agents publish the roles.
        public var service: String
        public var role: DatabaseSpec.Role

        public init(service: String, role: DatabaseSpec.Role) {
            self.service = service
            self.role = role
        }
    }

    public init(
        name: String,
        backends: [Backend],
        scheduling: Scheduling = .roundRobin,
        persistence: Persistence = .none,
        primaryZone: String? = nil,
        secondaryZone: String? = nil,
        retries: Int = 2,
        connectTimeout: Duration = .seconds(1),
        healthCheck: HealthCheckSpec? = nil,
        failover: ZoneFailoverPolicy.Settings = .init(),
        outliers: OutlierDetector.Settings = .init(),
        databaseRouting: DatabaseRouting? = nil
    ) {
        self.databaseRouting = databaseRouting
        self.name = name
        self.backends = backends
        self.scheduling = scheduling
        self.persistence = persistence
        self.primaryZone = primaryZone
        self.secondaryZone = secondaryZone
        self.retries = retries
        self.connectTimeout = connectTimeout
        self.healthCheck = healthCheck
        self.failover = failover
        self.outliers = outliers
    }
}

extension PoolPlan {
    /// Whether balancer instances share this pool's persistence table through the coordinator.
    public var sharesPersistence: Bool {
        if case .sourceAddress = persistence { true } else { false }
    }
}
