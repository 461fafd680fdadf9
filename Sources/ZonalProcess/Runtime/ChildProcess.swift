import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// What to run for one instance.
public struct ProcessSpec: Sendable, Hashable {
    /// Absolute path of the program.
    public var executable: String
    public var arguments: [String]
    /// The child's variables besides the few every child gets (``ProcessSpec/sharedVariables``):
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
    public static let sharedVariables: Set<String> = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TERM", "ZONAL_LOG_LEVEL", "ZONAL_BINARY",
                                                      "ZONAL_TOKEN_FILE"]

    /// The supervisor's variables named `names` or starting with one of `prefixes`, for a
    /// child that needs them.
    public static func passing(_ names: Set<String> = [], prefixes: [String] = [],
                               from environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        environment.filter { names.contains($0.key) || prefixes.contains(where: $0.key.hasPrefix) }
    }

    /// The child's whole environment, given the supervisor's.
    func childEnvironment(from supervisor: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        Self.passing(Self.sharedVariables, prefixes: ["LC_"], from: supervisor).merging(environment) { _, own in own }
    }
}

/// A child process running in its own process group, so that one signal reaches it and
/// everything it started. It is reaped by swift-subprocess; ``termination`` reports how it ended.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    /// Completes when the process has ended and been reaped, with a description of how.
    public let termination: Task<String, Never>

    /// Starts `spec`; throws when the program cannot be started at all.
    public static func launch(_ spec: ProcessSpec) async throws -> ChildProcess {
        let output = try FileDescriptor.open(FilePath(spec.logFile), .writeOnly, options: [.append, .create], permissions: [.ownerReadWrite, .groupRead])
        let errorOutput = try output.duplicate()
        var options = PlatformOptions()
        options.processGroupID = 0
        let (started, startedSink) = AsyncStream<pid_t>.makeStream()
        let environment = Environment.custom(Dictionary(uniqueKeysWithValues: spec.childEnvironment().map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
        let run = Task<String, any Error> {
            defer { startedSink.finish() }
            let result = try await Subprocess.run(
                .path(FilePath(spec.executable)), arguments: Arguments(spec.arguments), environment: environment,
                platformOptions: options, input: .none,
                output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                error: .fileDescriptor(errorOutput, closeAfterSpawningProcess: true)
            ) { execution in
                startedSink.yield(execution.processIdentifier.value)
                startedSink.finish()
            }
            return Self.describe(result.terminationStatus)
        }
        var iterator = started.makeAsyncIterator()
        guard let pid = await iterator.next() else {
            do {
                _ = try await run.value
                throw ChildProcessError.notStarted(spec.executable, reason: "ended before it started")
            } catch let error as ChildProcessError {
                throw error
            } catch {
                throw ChildProcessError.notStarted(spec.executable, reason: "\(error)")
            }
        }
        let termination = Task<String, Never> {
            do { return try await run.value } catch { return "lost track of the process: \(error)" }
        }
        return ChildProcess(pid: pid, termination: termination)
    }

    /// Sends `signal` to the whole process group; a group that is already gone is not an error.
    public func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    private static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)\(signal == SIGKILL ? " (SIGKILL)" : signal == SIGTERM ? " (SIGTERM)" : "")"
        }
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case notStarted(String, reason: String)

    public var description: String {
        switch self {
        case .notStarted(let program, let reason): "cannot start \(program): \(reason)"
        }
    }
}
