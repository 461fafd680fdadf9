import ArgumentParser
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
        for (name, value) in [
            ("--keep-last", keepLast), ("--keep-hourly", keepHourly), ("--keep-daily", keepDaily),
            ("--keep-weekly", keepWeekly), ("--keep-monthly", keepMonthly),
        ] where !(0...1_000_000).contains(value) {
            throw ValidationError("\(name) must be from 0 to 1000000, got \(value)")
        }
    }

    func run() async throws {
        let policy = Retention(last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly)
        guard !policy.isEmpty else { throw ValidationError("give at least one --keep-… rule; forgetting every snapshot is not a policy") }
        let opened = try await repository.open()
        let decisions = try await opened.forget(under: policy, dryRun: dryRun)
        for decision in decisions {
            print(
                "\(decision.keep ? "keep  " : "forget") \(decision.snapshot.prefix(12))  \(decision.time.formatted(.iso8601))  \(decision.reasons.joined(separator: ", "))"
            )
        }
        guard !dryRun else { return }
        print("\(decisions.filter { !$0.keep }.count) snapshot(s) forgotten, \(decisions.filter(\.keep).count) kept")
        if prune { try await BackupPrune.prune(opened) }
    }
}
