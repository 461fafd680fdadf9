import Foundation

/// What a service of kind `redis` runs: one Redis server and its agent per node, master and
/// replicas kept highly available by the agents through the coordinator.
public struct CacheSpec: Sendable, Hashable {
    /// When Redis fsyncs its append-only file, which bounds what a crash of the master loses.
    public enum AppendFsync: String, Sendable, Hashable, CaseIterable {
        /// Once a second: a crash loses at most the last second of acknowledged writes.
        case everysec
        /// Before every reply: a crash of the master loses nothing it acknowledged (slower).
        case always
    }

    /// How the agents detect a lost master and choose a successor.
    public struct Failover: Sendable, Hashable {
        /// Lifetime of an agent's lease (its member key and, on the master, the leader key). A dead
        /// master is replaced after at most this long; it is what RTO is made of. Default 1 s.
        public var ttl: Duration = .seconds(1)
        /// How often each agent observes its Redis and decides. Default 250 ms.
        public var loopWait: Duration = .milliseconds(250)
        /// A master whose agent cannot renew its lease pauses writes (`CLIENT PAUSE WRITE`) this
        /// long before the lease can expire on the coordinator (fencing). Default 300 ms.
        public var fenceMargin: Duration = .milliseconds(300)

        public init() {}
    }

    public var failover: Failover
    public var appendFsync: AppendFsync
    /// Redis's `min-replicas-to-write`: the master refuses writes while fewer replicas than this
    /// acknowledged within `min_replicas_max_lag`. A backstop for a master whose agent died while
    /// its Redis lives on. Default 0 (off; a lone master keeps taking writes).
    public var minReplicasToWrite: Int
    /// Redis's `min-replicas-max-lag`, in seconds. Default 10.
    public var minReplicasMaxLag: Int
    /// Port of the Sentinel-compatible discovery listener on each node. Default: the service's
    /// port + 20000 (6379 → 26379, as Sentinel's), when that is a port.
    public var sentinelPort: Int?
    /// Where each node keeps its data: `{node}` and `{service}` are replaced. Default
    /// `<state directory>/{service}/{node}/data`.
    public var dataDirectory: String?
    /// The `redis-server` program. Default `/usr/bin/redis-server`.
    public var serverPath: String?
    /// Extra `redis.conf` settings for every node (`maxmemory: 256mb`), written as given.
    public var parameters: [String: String]
    /// Nodes that never become master (Redis `replica-priority 0`).
    public var noFailover: Set<String>

    public init(
        failover: Failover = .init(), appendFsync: AppendFsync = .everysec, minReplicasToWrite: Int = 0, minReplicasMaxLag: Int = 10,
        sentinelPort: Int? = nil, dataDirectory: String? = nil, serverPath: String? = nil, parameters: [String: String] = [:], noFailover: Set<String> = []
    ) {
        self.failover = failover
        self.appendFsync = appendFsync
        self.minReplicasToWrite = minReplicasToWrite
        self.minReplicasMaxLag = minReplicasMaxLag
        self.sentinelPort = sentinelPort
        self.dataDirectory = dataDirectory
        self.serverPath = serverPath
        self.parameters = parameters
        self.noFailover = noFailover
    }

    /// The Sentinel listener's port for a service listening on `servicePort`; nil when neither
    /// the setting nor the default fits.
    public func sentinelPort(servicePort: Int) -> Int? {
        sentinelPort ?? (servicePort + 20000 <= 65535 ? servicePort + 20000 : nil)
    }
}

/// What a service of kind `redis-proxy` runs: a RESP proxy that clients connect to instead of a
/// Redis server, which always forwards to the current master of `cache`.
public struct CacheProxySpec: Sendable, Hashable {
    /// The `redis` service behind the proxy.
    public var cache: String
    /// How long a command waits for a master while there is none (a failover under way) before
    /// it fails with `-MASTERDOWN`. Default 2 s.
    public var waitForMaster: Duration
    /// Client connections served at once; more are refused. Default 10,000.
    public var maxClients: Int
    /// The largest bulk string a client may send (Redis's `proto-max-bulk-len`). Default 512 MiB.
    public var maxBulkLength: Int
    /// A client connection with no command for this long is closed; zero keeps it. Default 0.
    public var idleTimeout: Duration

    public init(cache: String, waitForMaster: Duration = .seconds(2), maxClients: Int = 10_000, maxBulkLength: Int = 512 << 20, idleTimeout: Duration = .zero) {
        self.cache = cache
        self.waitForMaster = waitForMaster
        self.maxClients = maxClients
        self.maxBulkLength = maxBulkLength
        self.idleTimeout = idleTimeout
    }
}
