import Foundation
import Logging
import Subprocess
import ZonalCore
import ZonalProcess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs PostgreSQL's own programs on one data directory: initdb, the server itself,
/// pg_basebackup, pg_rewind, pg_ctl. As root it runs them as the `postgres` user.
///
/// The server runs under a ``ServerGuard`` that stops it when the agent dies, so an agent killed
/// with SIGKILL cannot leave behind a primary nobody fences.
public struct PostgresController: Sendable {
    public let binDirectory: String
    public let dataDirectory: String
    /// The server's output.
    public let logFile: String
    /// What PostgreSQL's client programs (pg_basebackup, pg_rewind) log in with; nil where
    /// nothing connects to a server.
    public let password: ClusterPassword?
    /// Whom PostgreSQL runs as.
    let account: ServerAccount
    let logger: Logger

    public init(binDirectory: String, dataDirectory: String, logFile: String, password: ClusterPassword? = nil, logger: Logger) throws(DatabaseError) {
        for program in ["postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "pg_controldata"]
        where !FileManager.default.isExecutableFile(atPath: binDirectory + "/" + program) {
            throw .missingBinaries(directory: binDirectory, program: program)
        }
        self.binDirectory = binDirectory
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        self.password = password
        self.account = try ServerAccount.current()
        self.logger = logger
    }

    /// The major version of these binaries (`15`).
    public var version: String {
        get async throws {
            let output = try await runProgram("postgres", ["--version"])
            // "postgres (PostgreSQL) 15.18 (Debian ...)"
            let number = output.split(separator: " ").first { $0.first?.isNumber == true } ?? ""
            return String(number.split(separator: ".").first ?? "")
        }
    }

    // MARK: the data directory

    public enum DataDirectoryState: Sendable, Hashable {
        case absent
        /// `isStandby`: it has `standby.signal`, so it last ran (or will start) in recovery.
        case present(isStandby: Bool)
    }

    /// What is on disk, after checking it is a directory this server can use.
    public func inspect() async throws -> DataDirectoryState {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else { throw DatabaseError.notADataDirectory(dataDirectory) }
        let versionFile = dataDirectory + "/PG_VERSION"
        guard let found = try? String(contentsOfFile: versionFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory)) ?? []
            if contents.isEmpty { return .absent }
            throw DatabaseError.notADataDirectory(dataDirectory)
        }
        let owner = try FileManager.default.attributesOfItem(atPath: dataDirectory)[.ownerAccountID] as? NSNumber
        if let owner, owner.uint32Value != account.uid {
            throw DatabaseError.wrongOwner(dataDirectory: dataDirectory, owner: owner.uint32Value, expected: account.uid)
        }
        let expected = try await version
        guard found == expected else { throw DatabaseError.incompatibleVersion(dataDirectory: dataDirectory, found: found, expected: expected) }
        return .present(isStandby: FileManager.default.fileExists(atPath: dataDirectory + "/standby.signal"))
    }

    /// Creates a new cluster with data checksums (which pg_rewind needs), its `postgres` user
    /// holding `password` (stored as a SCRAM-SHA-256 verifier).
    public func initialize(password: ClusterPassword) async throws {
        try prepareEmptyDataDirectory()
        // initdb reads the password from a file, as the server's account: a private copy that
        // lives only as long as initdb runs.
        let passwordCopy = (dataDirectory as NSString).deletingLastPathComponent + "/\(DurableFile.temporaryPrefix)initdb-password"
        try DurableFile.write(Array((password.secret + "\n").utf8), to: passwordCopy, permissions: 0o600, owner: account.fileOwner)
        defer { unlink(passwordCopy) }
        _ = try await runProgram(
            "initdb",
            [
                "-D", dataDirectory, "-U", "postgres", "--pwfile=\(passwordCopy)", "--data-checksums", "--auth-local=peer",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
            ])
        try writeAccessRules()
    }

    /// Copies a running server's data (`pg_basebackup`, WAL streamed alongside).
    public func cloneFrom(host: String, port: Int) async throws {
        try prepareEmptyDataDirectory()
        do {
            try await baseBackup(fromHost: host, port: port, into: dataDirectory)
        } catch {
            // A partial copy is ours to remove: it was empty before.
            try? FileManager.default.removeItem(atPath: dataDirectory)
            throw error
        }
        try writeAccessRules()
    }

    /// A base backup of the server at `host:port` into `directory`, as the server's account:
    /// a data directory (`plain`, for a clone) or its tar files (`tar`, to store elsewhere).
    func baseBackup(fromHost host: String, port: Int, into directory: String, format: BaseBackupFormat = .plain) async throws {
        _ = try await runProgram(
            "pg_basebackup",
            ["-D", directory, "-F", format.rawValue, "-h", host, "-p", "\(port)", "-U", "postgres", "-X", "stream", "-c", "fast", "--no-password"])
    }

    /// `pg_basebackup --format`.
    enum BaseBackupFormat: String {
        case plain
        case tar
    }

    /// Unpacks a base backup's tar files (from ``baseBackup(fromHost:port:into:format:)``) into this
    /// (new, empty) data directory, as the server's account.
    func unpackBaseBackup(base: String, wal: String?) async throws {
        try prepareEmptyDataDirectory()
        _ = try await run("/bin/tar", ["-xf", base, "-C", dataDirectory])
        if let wal {
            try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal", withIntermediateDirectories: true)
            try account.own(dataDirectory + "/pg_wal")
            _ = try await run("/bin/tar", ["-xf", wal, "-C", dataDirectory + "/pg_wal"])
        }
    }

    /// Copies a base backup kept as a plain directory (as Zonal took them before they were tar
    /// files) into this (new, empty) data directory, as the server's account.
    func copyBaseBackup(from source: String) async throws {
        try prepareEmptyDataDirectory()
        _ = try await run("/bin/cp", ["-a", source + "/.", dataDirectory])
    }

    /// Rewinds this (stopped) data directory onto a running server's history; pg_rewind runs
    /// crash recovery first when the server did not stop cleanly.
    public func rewind(fromHost host: String, port: Int) async throws {
        _ = try await runProgram(
            "pg_rewind", ["-D", dataDirectory, "--source-server=host=\(host) port=\(port) user=postgres dbname=postgres connect_timeout=5"])
    }

    /// Moves a data directory that can no longer follow the cluster aside (never deletes it) and
    /// returns where it went.
    public func setAside() throws -> String {
        let aside = dataDirectory + ".diverged-" + String(Int(Date().timeIntervalSince1970))
        try FileManager.default.moveItem(atPath: dataDirectory, toPath: aside)
        return aside
    }

    /// Writes the agent's settings; the server reads them at its next start or reload.
    public func write(_ configuration: ServerConfiguration, standby: Bool) throws {
        try DurableFile.write(Data(configuration.render().utf8), to: dataDirectory + "/zonal.conf", owner: account.fileOwner)
        let main = dataDirectory + "/postgresql.conf"
        let text = (try? String(contentsOfFile: main, encoding: .utf8)) ?? ""
        let include = "include_if_exists = 'zonal.conf'"
        if !text.contains(include) {
            try DurableFile.write(
                Data((text + "\n# Settings managed by Zonal (written last, so they win):\n\(include)\n").utf8), to: main, owner: account.fileOwner)
        }
        let signal = dataDirectory + "/standby.signal"
        if standby, !FileManager.default.fileExists(atPath: signal) {
            try DurableFile.write(Data(), to: signal, owner: account.fileOwner)
        } else if !standby, FileManager.default.fileExists(atPath: signal) {
            try FileManager.default.removeItem(atPath: signal)
        }
    }

    // MARK: the server

    /// Starts the server as this process's child; returns at once (the server may still be
    /// recovering). Its output goes to ``logFile``.
    public func start() async throws -> ChildProcess {
        let postmaster = "\(dataDirectory)/postmaster.pid"
        if let pid = Self.postmasterPID(at: postmaster), kill(pid, 0) == 0 {
            // Started by an earlier agent that died without taking the server along: stop it,
            // since nothing would fence it.
            logger.warning("stopping a server this agent did not start", metadata: ["pid": "\(pid)"])
            try await stop(.immediate)
        }
        let spec = ProcessPlan(
            executable: ZonalExecutable.current,
            arguments: ["guard", "--parent", String(getpid()), "--", "/usr/bin/setpriv"] + account.setprivArguments + [
                "--", binDirectory + "/postgres", "-D", dataDirectory,
            ],
            logFile: logFile)
        return try await ChildProcess.launch(spec)
    }

    public enum ShutdownMode: String, Sendable {
        /// Disconnects clients, checkpoints, and on a primary first sends every WAL record to the
        /// connected standbys: for a switchover.
        case fast
        /// Stops at once without a checkpoint: for fencing.
        case immediate
    }

    public func stop(_ mode: ShutdownMode) async throws {
        guard let pid = Self.postmasterPID(at: "\(dataDirectory)/postmaster.pid"), kill(pid, 0) == 0 else { return }
        _ = try await runProgram("pg_ctl", ["stop", "-D", dataDirectory, "-m", mode.rawValue, "-w", "-t", "60"])
    }

    public func promote() async throws {
        _ = try await runProgram("pg_ctl", ["promote", "-D", dataDirectory, "-w", "-t", "60"])
    }

    public func reload() async throws {
        _ = try await runProgram("pg_ctl", ["reload", "-D", dataDirectory])
    }

    /// Whether the account PostgreSQL runs as can walk down to `path`.
    public static func serverAccountCanReach(_ path: String) -> Bool {
        guard let account = try? ServerAccount.current() else { return true }
        return (try? account.checkCanReach(path)) != nil
    }

    /// Whether the last run ended as a primary, and where, from the control file.
    public func controlData() async throws -> ControlData {
        let output = try await runProgram("pg_controldata", ["-D", dataDirectory])
        return ControlData(parsing: output)
    }

    /// Where a stopped server's WAL reaches: the control file's checkpoint or minimum recovery
    /// point, on the newest timeline its WAL directory holds (the control file still names the
    /// old timeline after a promotion until the next checkpoint).
    public func stoppedPosition() async -> WALPosition? {
        guard let position = try? await controlData().position else { return nil }
        return WALPosition(timeline: max(position.timeline, walTimeline() ?? 0), lsn: position.lsn)
    }

    /// The newest timeline among the WAL segments and history files in `pg_wal`.
    public func walTimeline() -> Int? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal") else { return nil }
        return names.compactMap { name -> Int? in
            let isSegment = name.count == 24 && name.allSatisfy(\.isHexDigit)
            let isHistory = name.hasSuffix(".history") && name.count == 16
            guard isSegment || isHistory else { return nil }
            return Int(name.prefix(8), radix: 16)
        }.max()
    }

    /// The timeline switches of `timeline`'s history (its `.history` file in `pg_wal`).
    public func history(ofTimeline timeline: Int) -> [TimelineSwitch] {
        let file = dataDirectory + "/pg_wal/" + String(format: "%08X", timeline) + ".history"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return TimelineSwitch.parseHistory(text)
    }

    static func postmasterPID(at path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    // MARK: helpers

    private func prepareEmptyDataDirectory() throws {
        try account.checkCanReach(dataDirectory)
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try account.own(dataDirectory)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory)
        try account.own((logFile as NSString).deletingLastPathComponent)
    }

    /// Every TCP connection, replication included, proves the password by SCRAM-SHA-256; the
    /// local socket admits only the operating-system user of the same name. Written again at
    /// every initdb and clone, so no copied file can loosen it; see docs/security.md.
    private func writeAccessRules() throws {
        let rules = """
            # Written by Zonal at initdb/clone; see docs/security.md.
            local all all peer
            host all all 0.0.0.0/0 scram-sha-256
            host all all ::/0 scram-sha-256
            host replication all 0.0.0.0/0 scram-sha-256
            host replication all ::/0 scram-sha-256

            """
        try DurableFile.write(Data(rules.utf8), to: dataDirectory + "/pg_hba.conf", owner: account.fileOwner)
    }

    @discardableResult
    func runProgram(_ program: String, _ arguments: [String]) async throws -> String {
        try await run(binDirectory + "/" + program, arguments)
    }

    /// Runs `path` as the server's account; its output, or an error with the end of it. With a
    /// ``password``, libpq finds it in a password file of the account's own that lives only as
    /// long as the program runs (never on the command line, never in the environment).
    @discardableResult
    func run(_ path: String, _ arguments: [String]) async throws -> String {
        let program = (path as NSString).lastPathComponent
        var environment = Environment.inherit
        let passfile = password.map { _ in
            (dataDirectory as NSString).deletingLastPathComponent + "/\(DurableFile.temporaryPrefix)pgpass-\(UInt64.random(in: 0...UInt64.max))"
        }
        if let password, let passfile {
            try password.writePassfile(at: passfile, owner: account.fileOwner)
            environment = environment.updating(["PGPASSFILE": passfile])
        }
        defer { if let passfile { unlink(passfile) } }
        let result = try await Subprocess.run(
            .path(FilePath("/usr/bin/setpriv")), arguments: Arguments(account.setprivArguments + ["--", path] + arguments), environment: environment,
            output: .string(limit: 1 << 20), error: .string(limit: 1 << 16))
        let output = result.standardOutput + result.standardError
        switch result.terminationStatus {
        case .exited(0):
            return output
        case .exited(let code):
            throw DatabaseError.commandFailed(
                program: program, status: "exited with status \(code)", output: String(output.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600)))
        case .signaled(let signal):
            throw DatabaseError.commandFailed(program: program, status: "was killed by signal \(signal)", output: "")
        }
    }
}

/// What `pg_controldata` says about a stopped server.
public struct ControlData: Sendable, Hashable {
    /// "shut down", "shut down in recovery", "in production", "in archive recovery"…
    public var state: String
    public var checkpoint: LogSequenceNumber?
    public var timeline: Int?
    /// Minimum recovery ending location's timeline or the checkpoint's, whichever is later.
    public var minimumRecoveryEnd: LogSequenceNumber?

    /// Reads `pg_controldata`'s output; fields it cannot read stay nil (or "unknown").
    public init(parsing output: String) {
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        state = fields["Database cluster state"] ?? "unknown"
        checkpoint = fields["Latest checkpoint location"].flatMap { LogSequenceNumber($0) }
        // Timeline IDs are 32-bit in PostgreSQL; anything else is not a timeline.
        timeline = fields["Latest checkpoint's TimeLineID"].flatMap { UInt32($0) }.map(Int.init)
        minimumRecoveryEnd = fields["Minimum recovery ending location"].flatMap { LogSequenceNumber($0) }
    }

    /// Where the server's WAL surely reaches: the later of checkpoint and minimum recovery end.
    public var position: WALPosition? {
        guard let timeline, let checkpoint else { return nil }
        return WALPosition(timeline: timeline, lsn: max(checkpoint, minimumRecoveryEnd ?? .zero))
    }

    /// The server ran as primary when it stopped (or crashed).
    public var wasPrimary: Bool {
        state == "shut down" || state == "in production"
    }
}
