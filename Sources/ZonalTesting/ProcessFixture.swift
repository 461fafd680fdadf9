import Foundation

/// A child process started by a test, tracked by PID and always stopped by that PID.
public final class ProcessFixture: @unchecked Sendable {
    private let process = Process()
    public let outputPath: String

    /// Starts `executable` with `arguments`; its output goes to `outputPath`.
    public init(executable: String, arguments: [String], outputPath: String, environment: [String: String] = [:]) throws {
        self.outputPath = outputPath
        // Created (or emptied) only when it is no device: creating replaces a file by renaming
        // over it, which would turn /dev/null into a plain file.
        let type = (try? FileManager.default.attributesOfItem(atPath: outputPath))?[.type] as? FileAttributeType
        if type == nil || type == .typeRegular { _ = FileManager.default.createFile(atPath: outputPath, contents: nil) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        // `setpriv --pdeathsig KILL` execs the program (same PID) so that it dies with the test
        // process, even when a crashed test cannot stop it.
        if FileManager.default.isExecutableFile(atPath: Self.setpriv) {
            process.executableURL = URL(fileURLWithPath: Self.setpriv)
            process.arguments = ["--pdeathsig", "KILL", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
    }

    private static let setpriv = "/usr/bin/setpriv"

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to end, up to `timeout`; returns its exit status, or nil if it still runs.
    public func waitForExit(timeout: Duration) async -> Int32? {
        await poll(timeout: timeout) { !process.isRunning } != nil ? process.terminationStatus : nil
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not ended after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        signal(SIGTERM)
        if await waitForExit(timeout: grace) == nil {
            signal(SIGKILL)
            _ = await waitForExit(timeout: .seconds(5))
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Finds the `zonal` binary built by `swift build`: `ZONAL_BINARY` if set, else next to the test bundle.
public enum ZonalBinary {
    public static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["ZONAL_BINARY"] { return explicit }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("zonal").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return ".build/debug/zonal"
    }
}

extension ZonalBinary {
    /// Runs `zonal` with `arguments` (and `environment` added to the test's) to completion and
    /// returns its exit status and combined output.
    public static func run(
        _ arguments: [String], directory: TemporaryDirectory,
        environment: [String: String] = [:]
    ) async throws -> (status: Int32, output: String) {
        let fixture = try ProcessFixture(
            executable: path, arguments: arguments, outputPath: directory.file("cli-\(UUID().uuidString.prefix(8)).out"),
            environment: environment)
        guard let status = await fixture.waitForExit(timeout: .seconds(30)) else {
            await fixture.stop()
            throw CommandTimedOut(arguments: arguments)
        }
        return (status, fixture.output)
    }

    public struct CommandTimedOut: Error, CustomStringConvertible {
        public var arguments: [String]
        public var description: String { "zonal \(arguments.joined(separator: " ")) did not finish within 30 s" }
    }
}

extension ProcessFixture {
    /// An embedded coordinator (`zonal coordinator serve`) on `host:7379` with its data in
    /// `directory/coordinator`, wanting the token in `tokenFile`: what a test cluster of agents
    /// coordinates through.
    public static func coordinator(host: String, directory: TemporaryDirectory, tokenFile: String) throws -> ProcessFixture {
        try ProcessFixture(
            executable: ZonalBinary.path,
            arguments: ["coordinator", "serve", "--host", host, "--port", "7379", "--data-dir", directory.file("coordinator"), "--token-file", tokenFile],
            outputPath: directory.file("coordinator.out"))
    }
}

/// curl, the client operators use, run to completion: the answer's status code and body.
public enum Curl {
    public static func run(_ arguments: [String], directory: TemporaryDirectory) async throws -> (status: Int, body: String) {
        let body = directory.file("curl-\(UUID().uuidString.prefix(8)).body")
        let fixture = try ProcessFixture(
            executable: "/usr/bin/curl", arguments: ["-s", "-o", body, "-w", "%{http_code}", "--max-time", "10"] + arguments,
            outputPath: directory.file("curl-\(UUID().uuidString.prefix(8)).out"))
        guard await fixture.waitForExit(timeout: .seconds(15)) != nil else {
            await fixture.stop()
            throw FixtureError("curl \(arguments.joined(separator: " ")) did not finish")
        }
        return (Int(fixture.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, (try? String(contentsOfFile: body, encoding: .utf8)) ?? "")
    }
}

/// The DNS clients people use, `dig` (BIND) and `kdig` (Knot), run to completion: their output.
public enum DNSClient {
    public static func dig(_ arguments: [String], directory: TemporaryDirectory) async throws -> String {
        try await run("/usr/bin/dig", arguments, directory: directory)
    }

    public static func kdig(_ arguments: [String], directory: TemporaryDirectory) async throws -> String {
        try await run("/usr/bin/kdig", arguments, directory: directory)
    }

    /// `dig +short` answer lines, sorted: the addresses (or data) of the answer section.
    public static func short(_ arguments: [String], directory: TemporaryDirectory) async throws -> [String] {
        try await dig(["+short", "+time=1", "+tries=2"] + arguments, directory: directory).split(separator: "\n").map(String.init).sorted()
    }

    private static func run(_ program: String, _ arguments: [String], directory: TemporaryDirectory) async throws -> String {
        let fixture = try ProcessFixture(executable: program, arguments: arguments, outputPath: directory.file("dns-\(UUID().uuidString.prefix(8)).out"))
        guard await fixture.waitForExit(timeout: .seconds(20)) != nil else {
            await fixture.stop()
            throw FixtureError("\(program) \(arguments.joined(separator: " ")) did not finish")
        }
        return fixture.output
    }
}

/// Processes whose command line contains `marker`, read from /proc: how tests find orphans.
public func processesMentioning(_ marker: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return commandLine.contains(marker)
    }
}
