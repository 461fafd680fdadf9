import Foundation

/// What one node's agent publishes about itself in the coordinator, under a key attached to its
/// lease: it vanishes when the agent stops renewing.
///
/// Peers read it to choose a failover candidate, balancers to route writes and reads, and
/// `zonal db status` to show the cluster.
public struct MemberStatus: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable, Hashable {
        case primary
        case standby
        /// The server is stopped or starting.
        case stopped
        /// No data directory yet (waiting to be bootstrapped or cloned).
        case uninitialized
    }

    public var name: String
    public var zone: String
    public var role: Role
    /// Timeline and WAL position: written on a primary, received (flushed) on a standby.
    public var position: WALPosition?
    /// Replayed position on a standby (what queries there see).
    public var replayed: LogSequenceNumber?
    /// The node a standby streams from, when its WAL receiver is connected.
    public var upstream: String?
    /// `host:port` of the PostgreSQL server.
    public var postgresAddress: String
    /// `host:port` of the agent's HTTP API.
    public var apiAddress: String
    /// False when the node must never become primary (topology `nofailover`).
    public var promotable: Bool
    /// Seconds since the last transaction replayed on a standby was committed on the primary.
    public var replayLagSeconds: Double?
    /// When this status was taken (wall clock, for operators).
    public var updatedAt: Date

    public init(
        name: String, zone: String, role: Role, position: WALPosition?, replayed: LogSequenceNumber? = nil, upstream: String? = nil,
        postgresAddress: String, apiAddress: String, promotable: Bool = true, replayLagSeconds: Double? = nil, updatedAt: Date = Date()
    ) {
        self.name = name
        self.zone = zone
        self.role = role
        self.position = position
        self.replayed = replayed
        self.upstream = upstream
        self.postgresAddress = postgresAddress
        self.apiAddress = apiAddress
        self.promotable = promotable
        self.replayLagSeconds = replayLagSeconds
        self.updatedAt = updatedAt
    }

    /// Streaming from `leader` right now.
    public func isStreaming(from leader: String) -> Bool {
        role == .standby && upstream == leader
    }
}

/// The standbys that may be promoted without losing an acknowledged commit, as published in the
/// coordinator. PostgreSQL acknowledges a commit once `quorum` of the standbys it waits for have
/// flushed it (`ANY quorum (...)`); the agent keeps PostgreSQL's list a subset of this one, so a
/// candidate that sees the positions of `members.count - quorum + 1` of these holds every
/// acknowledged commit when it has the highest of them.
public struct SynchronousSet: Codable, Sendable, Hashable, CustomStringConvertible {
    public var members: [String]
    public var quorum: Int

    public init(members: [String], quorum: Int = 1) {
        self.members = members.sorted()
        self.quorum = quorum
    }

    public static let empty = SynchronousSet(members: [])

    /// How many of the members a candidate must hear from before promoting.
    public var membersToConsult: Int { max(members.count - quorum + 1, 0) }

    public var description: String {
        members.isEmpty ? "none" : "ANY \(quorum) (\(members.joined(separator: ", ")))"
    }
}

/// The last position the primary published; kept without a lease so it outlives the primary and
/// candidates can tell how much they lag behind it.
public struct LeaderPosition: Codable, Sendable, Hashable {
    public var name: String
    public var position: WALPosition
    /// Where each earlier timeline of the primary's history ended (its `.history` file): a node
    /// that went further on one of them has diverged and must be rewound.
    public var history: [TimelineSwitch]
    /// True once the primary stopped cleanly for a switchover: `position` is then final.
    public var final: Bool

    public init(name: String, position: WALPosition, history: [TimelineSwitch] = [], final: Bool = false) {
        self.name = name
        self.position = position
        self.history = history
        self.final = final
    }

    /// Whether a node at `other` can no longer follow this history without a rewind.
    public func hasDiverged(_ other: WALPosition) -> Bool {
        if other.timeline > position.timeline { return true }
        if other.timeline == position.timeline { return false }
        guard let end = history.first(where: { $0.timeline == other.timeline })?.end else { return false }
        return other.lsn > end
    }
}

/// One line of a timeline history: `timeline` ended at `end`, where the next one began.
public struct TimelineSwitch: Codable, Sendable, Hashable {
    public var timeline: Int
    public var end: LogSequenceNumber

    public init(timeline: Int, end: LogSequenceNumber) {
        self.timeline = timeline
        self.end = end
    }
}

extension TimelineSwitch {
    /// The switches a timeline history file lists (`ID<TAB>LSN<TAB>reason` per line, comments
    /// and unreadable lines skipped), oldest first. Timeline IDs are 32-bit, as PostgreSQL's.
    public static func parseHistory(_ text: String) -> [TimelineSwitch] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, let id = UInt32(fields[0]), let end = LogSequenceNumber(fields[1]) else { return nil }
            return TimelineSwitch(timeline: Int(id), end: end)
        }
    }
}

/// An operator's request to hand the primary role to `target`.
public struct SwitchoverRequest: Codable, Sendable, Hashable {
    public var from: String
    public var target: String

    public init(from: String, target: String) {
        self.from = from
        self.target = target
    }
}
