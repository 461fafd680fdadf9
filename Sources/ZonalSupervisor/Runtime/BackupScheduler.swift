import Foundation
import Logging
import ServiceLifecycle
import ZonalBackup
import ZonalCore
import ZonalProcess

/// Runs the topology's backup policies for `zonal up`: each in its own child process
/// (`zonal backup`, at low CPU priority, so the supervisor's health checks never wait behind
/// chunking and compression), then its retention. Outcomes go to the event log; the time of the
/// last success is kept in the state directory, so a restart does not back up again at once.
public struct BackupScheduler: Service {
    /// The policies (`backups`), and where a `store:` repository's front end is found.
    public let topology: Topology
    public let zonalExecutable: String
    public let stateDirectory: String
    public let events: EventLog
    /// Waits until the next run (see ``BackupSchedule``).
    public let clock: any ZonalClock
    public let logger: Logger

    public init(
        topology: Topology, zonalExecutable: String, stateDirectory: String, events: EventLog,
        clock: any ZonalClock = SystemClock(), logger: Logger
    ) {
        self.topology = topology
        self.zonalExecutable = zonalExecutable
        self.stateDirectory = stateDirectory
        self.events = events
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try FileManager.default.createDirectory(atPath: "\(stateDirectory)/backups", withIntermediateDirectories: true)
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for policy in topology.backups { group.addTask { await schedule(policy) } }
            }
        }
    }

    private func schedule(_ policy: BackupSpec) async {
        let schedule = BackupSchedule(timetable: BackupTimetable(interval: policy.interval), clock: clock)
        await schedule.run(from: load(policy)) {
            let started = ContinuousClock.now
            let summary = try await backUp(policy)
            return "\(summary) in \((ContinuousClock.now - started).zonalDescription)"
        } finished: { result, outcomes in
            switch result {
            case .success(let summary): events.record(SupervisorEvent(kind: .backupFinished, subject: policy.name, message: summary))
            case .failure(let error): events.record(SupervisorEvent(kind: .backupFailed, subject: policy.name, message: "\(error)"))
            }
            save(outcomes, for: policy)
        }
    }

    /// Initialises the repository if needed, takes the snapshot, applies the retention; returns
    /// the backup's summary line.
    private func backUp(_ policy: BackupSpec) async throws -> String {
        let (location, keys) = try await repository(of: policy)
        let repository = ["--repo", location, "--password-file", policy.passwordFile]
        // Asked of the repository itself, so that S3 repositories are found as well as directories.
        try await zonal(["backup", "init", "--if-missing"] + repository, policy: policy, keys: keys)
        let options = policy.excludes.flatMap { ["--exclude", $0] } + (policy.oneFileSystem ? ["--one-file-system"] : [])
        let output = try await zonal(["backup", "create"] + repository + options + policy.paths, policy: policy, keys: keys)
        if !policy.retention.isEmpty {
            try await zonal(
                ["backup", "forget"] + repository + policy.retention.forgetArguments + (policy.prune ? ["--prune"] : []), policy: policy, keys: keys)
        }
        return output.split(separator: "\n").last { $0.contains("snapshot") }.map(String.init) ?? "snapshot taken"
    }

    /// The policy's repository as `zonal backup` takes it, and the S3 keys its child gets: for
    /// a `store:` repository, the front end of that store and its root key, read at each run (the
    /// store's first front end makes it: a run at start-up waits up to a minute for it);
    /// otherwise the location as written and no keys of its own.
    private func repository(of policy: BackupSpec) async throws -> (location: String, keys: [String: String]) {
        guard let reference = try ObjectStoreReference(parsing: policy.repository) else { return (policy.repository, [:]) }
        guard let frontEnd = reference.frontEnd(in: topology, zone: nil) else {
            throw BackupRunFailure(command: "backup", ending: "not started", output: "no s3 service serves \(reference.store)")
        }
        let file = S3Credentials.zonalStoreSecretFile(store: reference.store, stateDirectory: stateDirectory)
        for _ in 0..<120 where !FileManager.default.fileExists(atPath: file) {
            try await clock.sleep(for: .milliseconds(500))
        }
        let secret = try SecretFile.read(file)
        return (reference.location(at: frontEnd.endpoint), S3Credentials(zonalStoreSecret: secret).environment(region: frontEnd.region))
    }

    /// Runs `zonal ARGUMENTS` at nice 10 with `keys` (S3 keys that win over the supervisor's);
    /// its output goes to the policy's log and is returned.
    @discardableResult
    private func zonal(_ arguments: [String], policy: BackupSpec, keys: [String: String]) async throws -> String {
        let log = "\(stateDirectory)/logs/backup-\(policy.name).log"
        let before = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        // The one child that needs the repository's secrets from the supervisor's environment.
        let secrets = ProcessPlan.passing(prefixes: ["ZONAL_BACKUP_", "AWS_"]).merging(keys) { _, own in own }
        let child = try await ChildProcess.launch(
            ProcessPlan(
                executable: "/usr/bin/nice", arguments: ["-n", "10", zonalExecutable] + arguments,
                environment: secrets, logFile: log))
        let ending = await withTaskCancellationHandler {
            await child.termination.value
        } onCancel: {
            child.signalGroup(SIGTERM)
        }
        let output = Self.tail(of: log, from: before)
        guard ending == "exited with status 0" else {
            throw BackupRunFailure(command: arguments.prefix(2).joined(separator: " "), ending: ending, output: output)
        }
        return output
    }

    private static func tail(of path: String, from offset: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(offset))
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    private func path(for policy: BackupSpec) -> String {
        "\(stateDirectory)/backups/\(policy.name).json"
    }

    private func load(_ policy: BackupSpec) -> BackupSchedule.Outcomes {
        (try? JSONDecoder.zonal().decode(BackupSchedule.Outcomes.self, from: Data(contentsOf: URL(fileURLWithPath: path(for: policy))))) ?? .init()
    }

    private func save(_ outcomes: BackupSchedule.Outcomes, for policy: BackupSpec) {
        do {
            try JSONEncoder.zonal().encode(outcomes).write(to: URL(fileURLWithPath: path(for: policy)), options: .atomic)
        } catch {
            logger.warning("cannot record the outcome of backup policy \(policy.name): \(error)")
        }
    }
}

/// A scheduled `zonal backup` step that did not succeed, with the end of what it said.
struct BackupRunFailure: Error, CustomStringConvertible {
    var command: String
    var ending: String
    var output: String

    var description: String {
        let said = output.split(separator: "\n").suffix(3).joined(separator: " / ")
        return "zonal \(command) \(ending)" + (said.isEmpty ? "" : ": \(said)")
    }
}

extension Retention {
    /// The `zonal backup forget` options that express these rules (scheduled file backups set
    /// no `within`).
    var forgetArguments: [String] {
        [("--keep-last", last), ("--keep-hourly", hourly), ("--keep-daily", daily), ("--keep-weekly", weekly), ("--keep-monthly", monthly)]
            .filter { $0.1 > 0 }.flatMap { [$0.0, String($0.1)] }
    }
}
