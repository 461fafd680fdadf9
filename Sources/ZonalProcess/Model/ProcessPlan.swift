import Foundation

/// What to run for one instance.
public struct ProcessPlan: Sendable, Hashable {
    /// Absolute path of the program.
    public var executable: String
    public var arguments: [String]
    /// The child's variables besides the few every child gets (``ProcessPlan/sharedVariables``):
    /// a child never sees the supervisor's secrets unless they are given here.
    public var environment: [String: String]
    /// Standard output and error are appended here.
    public var logFile: String

    public init(executable: String, arguments: [String], environment: [String: String] = [:], logFile: String) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.logFile = logFile
    }

    /// What every child gets of the supervisor's environment: where programs are, the locale
    /// and time zone, the log level and where the admin token is. Nothing else — in particular
    /// not `ZONAL_BACKUP_PASSWORD`, `ZONAL_TOKEN` or `AWS_*`, which reach only the children
    /// that need them.
    public static let sharedVariables: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TERM", "ZONAL_LOG_LEVEL", "ZONAL_BINARY",
        "ZONAL_TOKEN_FILE",
    ]

    /// The supervisor's variables named `names` or starting with one of `prefixes`, for a
    /// child that needs them.
    public static func passing(
        _ names: Set<String> = [], prefixes: [String] = [],
        from environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        environment.filter { names.contains($0.key) || prefixes.contains(where: $0.key.hasPrefix) }
    }

    /// The child's whole environment, given the supervisor's.
    func childEnvironment(from supervisor: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        Self.passing(Self.sharedVariables, prefixes: ["LC_"], from: supervisor).merging(environment) { _, own in own }
    }
}
