/// A backup `zonal up` takes on a schedule: directories into a `zonal backup` repository every
/// `interval`, then the retention rules applied.
public struct BackupPolicy: Sendable, Hashable {
    /// Which snapshots to keep; the same rules as `zonal backup forget`.
    public struct Retention: Sendable, Hashable {
        public var last: Int?
        public var hourly: Int?
        public var daily: Int?
        public var weekly: Int?
        public var monthly: Int?

        public init(last: Int? = nil, hourly: Int? = nil, daily: Int? = nil, weekly: Int? = nil, monthly: Int? = nil) {
            self.last = last
            self.hourly = hourly
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
        }

        public var isEmpty: Bool { [last, hourly, daily, weekly, monthly].allSatisfy { $0 == nil } }

        /// The `zonal backup forget` options that express these rules.
        public var forgetArguments: [String] {
            [("--keep-last", last), ("--keep-hourly", hourly), ("--keep-daily", daily), ("--keep-weekly", weekly), ("--keep-monthly", monthly)]
                .flatMap { option, count in count.map { [option, String($0)] } ?? [] }
        }
    }

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
    public var retention: Retention
    /// Whether data no kept snapshot needs is deleted after applying the retention. Default true.
    public var prune: Bool

    public init(name: String, paths: [String], repository: String, passwordFile: String, interval: Duration,
                excludes: [String] = [], oneFileSystem: Bool = false, retention: Retention = .init(), prune: Bool = true) {
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
