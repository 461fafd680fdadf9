import Foundation

/// Something that happened to the topology, kept for `zonal events` and the failover timeline.
public struct SupervisorEvent: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        case started, stopped
        case regionFailed = "region-failed"
        case regionRecovered = "region-recovered"
        case zoneFailed = "zone-failed"
        case zoneRecovered = "zone-recovered"
        case nodeFailed = "node-failed"
        case nodeRecovered = "node-recovered"
        case processStarted = "process-started"
        case processExited = "process-exited"
        case healthChanged = "health-changed"
        case backupFinished = "backup-finished"
        case backupFailed = "backup-failed"
    }

    public var time: Date
    public var kind: Kind
    /// The zone, node or instance the event is about.
    public var subject: String
    public var message: String

    public init(time: Date = Date(), kind: Kind, subject: String, message: String) {
        self.time = time
        self.kind = kind
        self.subject = subject
        self.message = message
    }

    public var description: String {
        "\(time.formatted(.iso8601)) \(kind.rawValue) \(subject): \(message)"
    }
}
