import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupForget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove snapshots a retention policy does not keep (their data goes at the next prune).",
        discussion: "Example: zonal backup forget --keep-last 3 --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune"
    )
    @OptionGroup var repository: RepositoryOptions
    @Option var keepLast = 0
    @Option var keepHourly = 0
    @Option var keepDaily = 0
    @Option var keepWeekly = 0
    @Option var keepMonthly = 0
    @Flag(help: "Show what would go; change nothing.") var dryRun = false
    @Flag(help: "Prune afterwards.") var prune = false

    func validate() throws {
        for (name, value) in [("--keep-last", keepLast), ("--keep-hourly", keepHourly), ("--keep-daily", keepDaily),
                              ("--keep-weekly", keepWeekly), ("--keep-monthly", keepMonthly)] where !(0...1_000_000).contains(value) {
            throw ValidationError("\(name) must be from 0 to 1000000, got \(value)")
        }
    }

    func run() async throws {
        let policy = Retention(last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly)
        guard !policy.isEmpty else { throw ValidationError("give at least one --keep-… rule; forgetting every snapshot is not a policy") }
        let opened = try await repository.open()
        let decisions = await policy.apply(to: try await opened.snapshots().map { ($0.id, $0.time) })
        for decision in decisions {
            print("\(decision.keep ? "keep  " : "forget") \(decision.snapshot.prefix(12))  \(decision.time.formatted(.iso8601))  \(decision.reasons.joined(separator: ", "))")
        }
        guard !dryRun else { return }
        for decision in decisions where !decision.keep { try await opened.forget(decision.snapshot) }
        print("\(decisions.filter { !$0.keep }.count) snapshot(s) forgotten, \(decisions.filter(\.keep).count) kept")
        if prune { try await BackupPrune.prune(opened) }
    }
}

struct BackupPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Delete data no snapshot needs; repack partly used packs.")
    @OptionGroup var repository: RepositoryOptions

    func run() async throws {
        try await Self.prune(try repository.open())
    }

    static func prune(_ repository: Repository) async throws {
        let report = try await Pruner(repository: repository).prune()
        print("pruned: \(report.packsDeleted) pack(s) deleted, \(report.packsRewritten) rewritten, \(report.packsKept) kept; \(report.blobsRemoved) blob(s) removed\(report.temporariesRemoved > 0 ? ", \(report.temporariesRemoved) file(s) left by crashed writes removed" : ""), \(ByteText.format(report.bytesFreed)) freed")
    }
}

struct BackupUnlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Remove stale locks: of processes gone from this host, or not refreshed for 30 minutes.",
        discussion: "With --all, every lock goes at once: only when you know no backup, copy or prune is running on any machine."
    )
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Remove every lock, live or not.") var all = false

    func run() async throws {
        let opened = try await repository.open()
        let removed = try await RepositoryLock.removeLocks(in: opened.store, all: all)
        print("\(removed) lock(s) removed")
    }
}

struct BackupDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Show what changed between two snapshots (+ added, - removed, M modified).")
    @OptionGroup var repository: RepositoryOptions
    @Argument var first: String
    @Argument var second: String

    func run() async throws {
        let opened = try await repository.open()
        let entries = try await SnapshotDiff(repository: opened).compare(try opened.snapshot(first), try opened.snapshot(second))
        for entry in entries { print(entry) }
        let counts = Dictionary(grouping: entries, by: \.change).mapValues(\.count)
        print("\(counts[.added] ?? 0) added, \(counts[.removed] ?? 0) removed, \(counts[.modified] ?? 0) modified")
    }
}

struct BackupRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make a directory exactly what a snapshot holds (irreversible).",
        discussion: "Files added since the snapshot are deleted and changed ones replaced. Asks for confirmation on a terminal; elsewhere it needs --yes."
    )
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Snapshot id (a prefix is enough) or `latest`.") var snapshot: String
    @Argument(help: "The directory to roll back.") var path: String
    @Flag(help: "Do it without asking.") var yes = false

    func run() async throws {
        let opened = try await repository.open()
        let chosen = try await opened.snapshot(snapshot)
        if !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw CommandFailure("rollback replaces \(path) irreversibly; not on a terminal, so it needs --yes")
            }
            print("This makes \(path) exactly as in snapshot \(chosen.id.prefix(12)) of \(chosen.time.formatted(.iso8601)):")
            print("files created since then are DELETED and changed files replaced. This cannot be undone.")
            print("Type yes to go on: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else { throw CommandFailure("not confirmed; nothing changed") }
        }
        let result = try await Rollback(repository: opened).rollBack(path, to: chosen)
        print("rolled \(path) back to snapshot \(chosen.id.prefix(12)): \(result.files) files, \(result.directories) directories, \(ByteText.format(result.bytes))")
        try reportWarnings(result.warnings) { "\($0) entr(ies) could not be restored (listed above); everything else is as in the snapshot" }
    }
}

struct BackupCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy snapshots to a second repository (an off-site copy), re-encrypted with its key.",
        discussion: "The target's password comes from --to-password-file or ZONAL_BACKUP_TO_PASSWORD. Snapshots copied before are skipped."
    )
    @OptionGroup var repository: RepositoryOptions
    @Option(help: "The target repository: a directory or s3:http://HOST:PORT/BUCKET/PREFIX.") var to: String
    @Option(help: "A file whose first line is the target's password.") var toPasswordFile: String?
    @Argument(help: "Snapshots to copy (default: all).") var snapshots: [String] = []

    func run() async throws {
        let source = try await repository.open()
        let targetPassword: String
        if let toPasswordFile {
            targetPassword = try readPassword(from: toPasswordFile)
        } else if let password = ProcessInfo.processInfo.environment["ZONAL_BACKUP_TO_PASSWORD"] {
            targetPassword = password
        } else {
            throw ValidationError("give the target's password with --to-password-file or ZONAL_BACKUP_TO_PASSWORD")
        }
        let target = try await Repository.open(at: to, password: targetPassword)
        var chosen = snapshots.isEmpty ? try await source.snapshots() : []
        for id in snapshots { chosen.append(try await source.snapshot(id)) }
        let copied = try await Copier(source: source, target: target).copy(chosen)
        for snapshot in copied { print("copied \(snapshot.original?.prefix(12) ?? "?") as \(snapshot.id.prefix(12))") }
        print("\(copied.count) snapshot(s) copied to \(to)")
    }
}
