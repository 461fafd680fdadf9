/// A pool of servers behind a listener, and how the balancer picks among them.
public struct PoolConfiguration: Sendable, Hashable {
    public enum Scheduling: String, Sendable, Hashable, CaseIterable {
        /// Smooth weighted round robin (default).
        case roundRobin = "round_robin"
        /// Fewest active connections per unit of weight.
        case leastConnections = "least_connections"
        /// Consistent hashing of the client address: a client keeps its server.
        case sourceHash = "source_hash"
    }

    public var name: String
    public var backends: [Backend]
    public var scheduling: Scheduling
    /// The zone that takes traffic while it has a healthy server; nil: every zone.
    public var primaryZone: String?
    /// The zone that takes traffic only while the primary has none.
    public var secondaryZone: String?
    /// Other servers tried when connecting to one fails. Default 2.
    public var retries: Int
    /// Time allowed to connect to a server before trying another. Default 1 s.
    public var connectTimeout: Duration
    public var failover: ZoneFailoverPolicy.Settings
    public var outliers: OutlierDetector.Settings

    public init(
        name: String,
        backends: [Backend],
        scheduling: Scheduling = .roundRobin,
        primaryZone: String? = nil,
        secondaryZone: String? = nil,
        retries: Int = 2,
        connectTimeout: Duration = .seconds(1),
        failover: ZoneFailoverPolicy.Settings = .init(),
        outliers: OutlierDetector.Settings = .init()
    ) {
        self.name = name
        self.backends = backends
        self.scheduling = scheduling
        self.primaryZone = primaryZone
        self.secondaryZone = secondaryZone
        self.retries = retries
        self.connectTimeout = connectTimeout
        self.failover = failover
        self.outliers = outliers
    }
}
