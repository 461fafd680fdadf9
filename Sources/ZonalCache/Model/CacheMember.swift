import Foundation
import ZonalCore

/// What one node's agent publishes about its Redis in the coordinator, under a key attached to
/// its lease: it vanishes when the agent stops renewing. Peers read it to choose a failover
/// candidate; `zonal cache status` shows it.
public struct CacheMember: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable, Hashable {
        case master
        case replica
        /// Redis is stopped, starting or loading its append-only file.
        case stopped
    }

    public var name: String
    public var zone: String
    public var role: Role
    /// Redis's `master_repl_offset`: how much of the replication stream this node holds.
    public var offset: Int64?
    /// The node a replica is configured to replicate from.
    public var upstream: String?
    /// A replica's link to its master is up (`master_link_status:up`): its offset may still move.
    public var linkUp: Bool
    /// Seconds since a replica last heard from its master (`master_last_io_seconds_ago`).
    public var lastIOSeconds: Int?
    /// `host:port` of the Redis server.
    public var redisAddress: String
    /// False when the node must never become master (topology `nofailover`).
    public var promotable: Bool
    /// When this status was taken (wall clock, for operators).
    public var updatedAt: Date

    public init(
        name: String, zone: String, role: Role, offset: Int64? = nil, upstream: String? = nil, linkUp: Bool = false, lastIOSeconds: Int? = nil,
        redisAddress: String, promotable: Bool = true, updatedAt: Date = Date()
    ) {
        self.name = name
        self.zone = zone
        self.role = role
        self.offset = offset
        self.upstream = upstream
        self.linkUp = linkUp
        self.lastIOSeconds = lastIOSeconds
        self.redisAddress = redisAddress
        self.promotable = promotable
        self.updatedAt = updatedAt
    }

    /// The same status without its time, to publish only on change.
    var withoutTime: CacheMember {
        var copy = self
        copy.updatedAt = .distantPast
        return copy
    }
}

/// A change of master, with its cause, how long there was no writable master, and what the
/// old master held that the new one did not (the data lost, reported rather than guessed).
public struct CacheEvent: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// A replica became master after the old one was lost.
        case failover
        /// A node started the service as its first master.
        case bootstrap
        /// An old master came back and was turned into a replica.
        case rejoin
    }

    public var kind: Kind
    public var from: String?
    public var to: String
    public var cause: String
    /// From the moment the new master's agent saw no leader to the end of its promotion.
    public var duration: Duration
    /// The new master's offset when promoted: what it had of the old master's stream.
    public var offset: Int64?
    /// On `rejoin`: bytes of the replication stream the old master had written past the point
    /// the new master took over, which Redis discards when the old master resynchronises.
    public var divergedBytes: Int64?
    public var at: Date

    public init(
        kind: Kind, from: String?, to: String, cause: String, duration: Duration = .zero, offset: Int64? = nil, divergedBytes: Int64? = nil, at: Date = Date()
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.cause = cause
        self.duration = duration
        self.offset = offset
        self.divergedBytes = divergedBytes
        self.at = at
    }

    public var description: String {
        switch kind {
        case .rejoin:
            "rejoin: \(from ?? "?") follows \(to)"
                + (divergedBytes.map { $0 > 0 ? "; \($0) bytes of its writes diverged and are discarded" : "; nothing diverged" } ?? "")
        case .failover, .bootstrap:
            "\(kind.rawValue) \(from.map { "\($0) → " } ?? "")\(to) in \(duration.zonalDescription): \(cause)"
        }
    }
}
