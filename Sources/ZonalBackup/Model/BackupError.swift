/// Why a repository operation failed, in words an operator can act on.
public enum BackupError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The password does not open any key of the repository.
    case wrongPassword
    /// Stored data fails its authentication or does not decode.
    case corrupt(String)
    case notARepository(String)
    case alreadyExists(String)
    case io(String)
    case invalid(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .wrongPassword:
            "wrong password: it opens none of the repository's keys (a lost password cannot be recovered; the data stays encrypted)"
        case .corrupt(let detail): "damaged repository data: \(detail)"
        case .notARepository(let path): "\(path) is not a Zonal backup repository (no config file); create one with `zonal backup init`"
        case .alreadyExists(let path): "\(path) already holds a repository; refusing to overwrite it"
        case .io(let detail): detail
        case .invalid(let detail): detail
        case .notFound(let detail): detail
        }
    }
}
