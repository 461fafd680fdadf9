/// Why a database operation could not be done, in words an operator can act on.
public enum DatabaseError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingBinaries(directory: String, program: String)
    case noPostgresUser
    case wrongOwner(dataDirectory: String, owner: UInt32, expected: UInt32)
    case incompatibleVersion(dataDirectory: String, found: String, expected: String)
    case notADataDirectory(String)
    case unreachableDirectory(path: String, blockedAt: String, account: String)
    case commandFailed(program: String, status: String, output: String)
    case query(String)
    case corruptWAL(segment: String, reason: String)
    case insecureFile(path: String, reason: String)
    /// A switchover that may not start, or did not finish in time.
    case switchover(String)
    /// The backup target could not be opened, read or written.
    case backup(String)

    public var description: String {
        switch self {
        case .missingBinaries(let directory, let program):
            "PostgreSQL's \(program) is not in \(directory); install the postgresql package (apt-get install -y postgresql) or set database.bin_directory"
        case .noPostgresUser:
            "running as root needs a `postgres` user for PostgreSQL to run as; install the postgresql package, which creates it"
        case .wrongOwner(let directory, let owner, let expected):
            "data directory \(directory) belongs to uid \(owner), but PostgreSQL runs as uid \(expected); fix it with `chown -R postgres: \(directory)` — Zonal changes nothing in it"
        case .incompatibleVersion(let directory, let found, let expected):
            "data directory \(directory) was created by PostgreSQL \(found); these binaries are PostgreSQL \(expected). Upgrade it with pg_upgrade or point the node at another directory — Zonal leaves it as it is"
        case .notADataDirectory(let directory):
            "\(directory) exists but is not a PostgreSQL data directory (no PG_VERSION); Zonal will not write into it"
        case .unreachableDirectory(let path, let blockedAt, let account):
            "PostgreSQL runs as \(account), which cannot enter \(blockedAt) to reach its data directory \(path); run from a directory it can reach or set database.data_directory (e.g. under /var/lib/zonal)"
        case .commandFailed(let program, let status, let output):
            "\(program) \(status)" + (output.isEmpty ? "" : ": \(output)")
        case .query(let message):
            "query failed: \(message)"
        case .corruptWAL(let segment, let reason):
            "archived WAL segment \(segment) is corrupt: \(reason)"
        case .insecureFile(let path, let reason):
            "password file \(path): \(reason)"
        case .backup(let reason): reason
        case .switchover(let reason):
            reason
        }
    }
}
