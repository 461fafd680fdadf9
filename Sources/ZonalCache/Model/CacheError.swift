/// What goes wrong in the cache service, said so an operator can act on it.
public enum CacheError: Error, Sendable, CustomStringConvertible {
    /// Redis refused a command or did not answer.
    case redis(String)
    /// The topology or a file does not say what the service needs.
    case configuration(String)

    public var description: String {
        switch self {
        case .redis(let message): message
        case .configuration(let message): message
        }
    }
}
