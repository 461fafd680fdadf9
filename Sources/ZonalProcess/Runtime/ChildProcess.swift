import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// A child process running in its own process group, so that one signal reaches it and
/// everything it started. It is reaped by swift-subprocess; ``termination`` reports how it ended.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    /// Completes when the process has ended and been reaped, with a description of how.
    public let termination: Task<String, Never>

    /// Starts `spec`; throws when the program cannot be started at all.
    public static func launch(_ spec: ProcessPlan) async throws -> ChildProcess {
        let output = try FileDescriptor.open(FilePath(spec.logFile), .writeOnly, options: [.append, .create], permissions: [.ownerReadWrite, .groupRead])
        let errorOutput = try output.duplicate()
        var options = PlatformOptions()
        options.processGroupID = 0
        let (started, startedSink) = AsyncStream<pid_t>.makeStream()
        let environment = Environment.custom(
            Dictionary(uniqueKeysWithValues: spec.childEnvironment().map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
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
