import Foundation
import Logging
import ZonalBackup
import ZonalCore
import ZonalProcess

/// Builds a new PostgreSQL instance as the cluster was at a moment: the newest base backup that
/// finished before it, replayed from the WAL archive up to that moment, then stopped cleanly.
/// The result is an ordinary data directory to start wherever it is needed.
public struct PointInTimeRestore: Sendable {
    public let destination: BackupDestination
    public let binDirectory: String
    /// The cluster's password, which the restored instance keeps (it is in the base backup).
    public let password: ClusterPassword
    public let logger: Logger

    public init(destination: BackupDestination, binDirectory: String, password: ClusterPassword, logger: Logger) {
        self.destination = destination
        self.binDirectory = binDirectory
        self.password = password
        self.logger = logger
    }

    public struct Outcome: Sendable {
        public var backup: BaseBackupRecord
        public var directory: String
    }

    /// Restores into `directory` (absent or empty) the state at `target`, replaying on `port` of
    /// 127.0.0.1 meanwhile. Everything is checked before the directory is touched: a base backup
    /// exists before `target`, and every archived segment it needs is intact.
    public func restore(to target: Date, into directory: String, port: Int) async throws -> Outcome {
        let catalog = try destination.catalog()
        let backups = try await catalog.list()
        guard let backup = backups.last(where: { $0.finishedAt <= target }) else {
            let oldest = backups.first.map { "the oldest finished at \(Self.text($0.finishedAt))" } ?? "there is none in \(destination.location)"
            throw DatabaseError.query("no base backup finished before \(Self.text(target)); \(oldest)")
        }
        try await catalog.archive.verify(from: backup.startSegment)
        if let local = catalog.store as? LocalStore {
            try Self.checkReadable(local.path("wal/\(backup.startSegment)"), by: try ServerAccount.current())
        }
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: directory), !contents.isEmpty {
            throw DatabaseError.query("\(directory) is not empty; restore into a new directory")
        }
        let controller = try PostgresController(
            binDirectory: binDirectory, dataDirectory: directory,
            logFile: directory + ".restore.log", logger: logger)
        try await catalog.fetch(backup, using: controller, staging: directory + ".base")
        // The replaying server reads the target's keys from a file of its own, gone afterwards.
        let credentials = directory + ".backup.credentials"
        guard destination.writeServerCredentials(to: credentials, owner: controller.account.fileOwner) else {
            throw DatabaseError.backup("no credentials for the backup target \(destination.location)")
        }
        defer { unlink(credentials) }
        var configuration = ServerConfiguration(listenAddress: "127.0.0.1", port: port)
        configuration.recovery = .init(
            restoreCommand: "\"\(ZonalExecutable.current)\" db restore-wal \(destination.commandArguments(credentialsFile: credentials)) %f %p",
            targetTime: Self.postgresTime(target))
        try controller.write(configuration, standby: false)
        try DurableFile.write(Data(), to: directory + "/recovery.signal", owner: controller.account.fileOwner)
        let server = try await controller.start()
        let session = PostgresSession(host: "127.0.0.1", port: port, password: password, logger: logger)
        defer { Task { await session.disconnect() } }
        // Recovery ends by promotion once the target is reached; a failure ends the server.
        while true {
            if let observed = try? await session.observe(walTimeline: nil), !observed.inRecovery { break }
            if kill(server.pid, 0) != 0 {
                let log = (try? String(contentsOfFile: controller.logFile, encoding: .utf8)) ?? ""
                let reason = log.split(separator: "\n").filter { $0.contains("FATAL") || $0.contains("corrupt") }.suffix(3).joined(separator: "; ")
                throw DatabaseError.query("recovery to \(Self.text(target)) failed: \(reason.isEmpty ? "see \(controller.logFile)" : reason)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        await session.disconnect()
        try await controller.stop(.fast)
        // Leave a plain instance: no recovery settings, no archiving into the cluster's archive.
        configuration.recovery = nil
        try controller.write(configuration, standby: false)
        return Outcome(backup: backup, directory: directory)
    }

    /// PostgreSQL's restore command reads a directory archive as the server's account: a copy
    /// made without keeping owners (`cp -r` as root) would fail in the middle of recovery with
    /// "command not executable", so it is refused first, with the fix.
    static func checkReadable(_ path: String, by account: ServerAccount) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        if !account.allows(S_IRUSR, on: info) {
            throw DatabaseError.backup(
                "\(path) cannot be read by \(account.name), which replays the archive; give the archive to it (chown -R \(account.name) \((path as NSString).deletingLastPathComponent)) or copy it with cp -a"
            )
        }
    }

    static func text(_ date: Date) -> String {
        ISO8601DateFormatter.zonalFractional.string(from: date)
    }

    /// `recovery_target_time`'s format, in UTC.
    static func postgresTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        return formatter.string(from: date) + "+00"
    }
}

extension ISO8601DateFormatter {
    /// ISO 8601 with fractional seconds, the form `--to-time` prints and reads.
    public static var zonalFractional: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
