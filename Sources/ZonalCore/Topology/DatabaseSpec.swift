import Foundation

/// What a service of kind `postgres` runs: one PostgreSQL server and its agent per node, kept
/// highly available by the agents through the coordinator.
public struct DatabaseSpec: Sendable, Hashable {
    /// The shapes a cluster comes in; each sets the defaults of the settings below.
    public enum Edition: String, Sendable, Hashable, CaseIterable {
        /// One node and its backups; no failover.
        case basic
        /// A primary and a standby in another zone; asynchronous unless `synchronous_mode` says otherwise.
        case ha
        /// `ha` plus read-only replicas, possibly in other zones.
        case cluster
        /// A primary and two synchronous standbys in three zones, quorum commit `ANY 1`: RPO 0.
        case enterprise
    }

    /// Which servers of a PostgreSQL cluster a balancer pool sends connections to.
    public typealias Role = ReplicaRole

    /// Whether commits wait for standbys.
    public enum SynchronousMode: String, Sendable, Hashable, CaseIterable {
        /// Commits are acknowledged by the primary alone (RPO up to `maximum_lag_on_failover`).
        case off
        /// Commits wait for a standby while one is healthy; with none left the primary goes on
        /// alone and no node may then be promoted automatically.
        case on
        /// Commits always wait for a standby: writes stop rather than run unprotected.
        case strict
    }

    /// How the agents detect a lost primary and choose a successor.
    public struct Failover: Sendable, Hashable {
        /// Lifetime of an agent's lease (its member key and, on the primary, the leader key).
        /// A dead primary is replaced after at most this long. Default 3 s.
        public var ttl: Duration = .seconds(3)
        /// How often each agent observes its server and decides. Default 1 s.
        public var loopWait: Duration = .seconds(1)
        /// A primary that cannot renew its lease stops PostgreSQL this long before the lease can
        /// expire on the coordinator (fencing). Default 0.5 s.
        public var fenceMargin: Duration = .milliseconds(500)
        /// An asynchronous standby further behind the last known primary position is never
        /// promoted automatically. Default 1 MiB.
        public var maximumLagOnFailover: UInt64 = 1 << 20
        public var synchronousMode: SynchronousMode = .off
        /// How many standbys PostgreSQL waits for (`ANY 1` of this many). Default 1; 2 in `enterprise`.
        public var synchronousStandbys: Int = 1

        public init() {}
    }

    /// Base backups and WAL archiving, for point-in-time recovery.
    public struct Backup: Sendable, Hashable {
        /// Where base backups (`base/`) and archived WAL (`wal/`) go, as written: a directory,
        /// `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`, or `store:NAME/BUCKET[/PREFIX]` for an
        /// object store of this topology (``ObjectStoreReference``); `{service}` is replaced.
        public var target: String
        /// For an `s3:` target: a file of `AWS_*=value` lines; nil: the agent's environment.
        public var credentialsFile: String?
        /// How often the primary's agent takes a base backup. Default 24 h.
        public var interval: Duration = .seconds(24 * 3600)
        /// Base backups kept at least (the newest). Default 7.
        public var keep: Int = 7
        /// Base backups younger than this many days are kept too. Default 0.
        public var keepDays: Int = 0

        public init(target: String) {
            self.target = target
        }

        /// The three kinds of target.
        public enum Target: Sendable, Hashable {
            /// An absolute directory.
            case directory(String)
            /// `s3:http(s)://…`, checked when it is opened.
            case s3(String)
            /// A bucket of an object store of the topology.
            case store(ObjectStoreReference)
        }

        /// The target for service `service` (`{service}` replaced, a directory made absolute).
        public func resolvedTarget(service: String) throws(ObjectStoreReferenceError) -> Target {
            let text = target.replacingOccurrences(of: "{service}", with: service)
            if text.hasPrefix("s3:") { return .s3(text) }
            if let reference = try ObjectStoreReference(parsing: text) { return .store(reference) }
            return .directory(URL(fileURLWithPath: text).standardizedFileURL.path)
        }
    }

    public var edition: Edition
    public var failover: Failover
    /// Nil: no archiving and no scheduled base backups.
    public var backup: Backup?
    /// Where each node keeps its data directory: `{node}` and `{service}` are replaced. Default
    /// `<state directory>/{service}/{node}/data`.
    public var dataDirectory: String?
    /// Where PostgreSQL's programs are. Default `/usr/lib/postgresql/15/bin`.
    public var binDirectory: String?
    /// Extra `postgresql.conf` settings for every node, written as given.
    public var parameters: [String: String]
    /// Nodes that never become primary.
    public var noFailover: Set<String>

    public init(
        edition: Edition = .ha, failover: Failover? = nil, dataDirectory: String? = nil, binDirectory: String? = nil,
        parameters: [String: String] = [:], noFailover: Set<String> = []
    ) {
        self.edition = edition
        self.failover = failover ?? Self.defaults(for: edition)
        self.dataDirectory = dataDirectory
        self.binDirectory = binDirectory
        self.parameters = parameters
        self.noFailover = noFailover
    }

    /// The settings an edition starts from.
    public static func defaults(for edition: Edition) -> Failover {
        var failover = Failover()
        if edition == .enterprise {
            failover.synchronousMode = .strict
            failover.synchronousStandbys = 2
        }
        return failover
    }

    /// How many nodes the edition needs at least.
    public var minimumNodes: Int {
        switch edition {
        case .basic: 1
        case .ha: 2
        case .cluster: 3
        case .enterprise: 3
        }
    }
}

/// The two roles of a node of a replicated service (PostgreSQL, Redis): what a pool's `role:`
/// asks for, and what the service's agents publish under `/zonal/roles/<service>/<node>`.
public enum ReplicaRole: String, Sendable, Hashable, CaseIterable {
    /// Runs as primary and holds the service's leader key: the one address for writes.
    case primary
    /// Streams from the primary: an address for reads (the primary while none streams).
    case replica
}
