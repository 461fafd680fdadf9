/// A backup `zonal up` takes on a schedule: directories into a `zonal backup` repository every
/// `interval`, then the retention rules applied.
public struct BackupSpec: Sendable, Hashable {
    public var name: String
    public var paths: [String]
    /// The repository: a directory or `s3:http://HOST:PORT/BUCKET/PREFIX` (S3 keys from the
    /// environment of `zonal up`); created with `zonal backup init` on the first run.
    public var repository: String
    /// A file whose first line is the repository password (a schedule has no one to ask).
    public var passwordFile: String
    public var interval: Duration
    /// Patterns left out, as `zonal backup create --exclude`.
    public var excludes: [String]
    /// Whether the backup stays on the file system of each path (`--one-file-system`). Default false.
    public var oneFileSystem: Bool
    /// Which snapshots to keep; the same rules as `zonal backup forget`.
    public var retention: Retention
    /// Whether data no kept snapshot needs is deleted after applying the retention. Default true.
    public var prune: Bool

    public init(
        name: String, paths: [String], repository: String, passwordFile: String, interval: Duration,
        excludes: [String] = [], oneFileSystem: Bool = false, retention: Retention = .init(), prune: Bool = true
    ) {
        self.name = name
        self.paths = paths
        self.repository = repository
        self.passwordFile = passwordFile
        self.interval = interval
        self.excludes = excludes
        self.oneFileSystem = oneFileSystem
        self.retention = retention
        self.prune = prune
    }
}
