/// Why a storage node or front end cannot start or a replica operation failed, in words an
/// operator can act on.
public enum ObjectsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The topology or a file it names is not usable.
    case configuration(String)
    /// A replica's file or index failed (the disk, a corrupt file, a full disk).
    case storage(String)
    /// No room left on the node's disk.
    case diskFull(String)
    /// The replica asked for does not exist on this node.
    case notFound(String)
    /// A replica's bytes do not match their recorded digest.
    case corrupt(String)
    /// What a caller sent makes no sense (an unknown upload, a digest that does not match).
    case invalid(String)

    public var description: String {
        switch self {
        case .configuration(let message), .storage(let message), .diskFull(let message), .notFound(let message), .corrupt(let message),
            .invalid(let message):
            message
        }
    }
}
