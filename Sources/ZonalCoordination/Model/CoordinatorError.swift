/// Everything a coordinator call can fail with, each saying what to do about it.
public enum CoordinatorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No endpoint answered.
    case unreachable(endpoints: [String], reason: String)
    /// A watch asked for history that has been compacted away; resume from a newer revision.
    case compacted(requested: Int64, compactedThrough: Int64)
    /// The lease does not exist (expired or revoked).
    case leaseNotFound(LeaseID)
    /// The coordinator answered something this client cannot read.
    case badAnswer(String)
    /// The coordinator refused the request.
    case rejected(String)
    /// The embedded coordinator's state on disk is damaged; it is never read as empty.
    case corruptState(path: String, reason: String)
    /// The embedded coordinator's state cannot be written.
    case storage(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let endpoints, let reason):
            "no coordinator endpoint answers (\(endpoints.joined(separator: ", "))): \(reason)"
        case .compacted(let requested, let through):
            "revision \(requested) has been compacted (history kept from revision \(through + 1)); watch again from a newer revision"
        case .leaseNotFound(let id):
            "lease \(id) does not exist: it expired or was revoked"
        case .badAnswer(let detail):
            "the coordinator's answer could not be read: \(detail)"
        case .rejected(let message):
            "the coordinator refused the request: \(message)"
        case .corruptState(let path, let reason):
            "the coordinator state in \(path) is corrupt: \(reason); it was left untouched — restore it from a backup or move it away to start empty"
        case .storage(let path, let reason):
            "cannot write the coordinator state in \(path): \(reason)"
        }
    }
}
