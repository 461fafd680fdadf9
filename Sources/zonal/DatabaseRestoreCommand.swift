import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalDatabase

struct DatabaseRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Build a new PostgreSQL instance as the cluster was at a moment (point-in-time recovery).",
        discussion:
            "Takes the newest base backup that finished before --to-time, replays the archived WAL up to that moment and stops; DIR is then a data directory to start with pg_ctl. The cluster itself is not touched."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The moment, ISO 8601 (2026-11-26T14:30:00Z, fractions allowed).") var toTime: String
    @Option(help: "The new data directory (absent or empty).") var into: String
    @Option(help: "Port on 127.0.0.1 used while replaying.") var port: Int = 15_432
    @Option(
        help:
            "Restore from this copy of the backups instead of the topology's target: a directory, s3:http://HOST:PORT/BUCKET/PREFIX or store:NAME/BUCKET/PREFIX (another region's store after a region is lost)."
    )
    var from: String?
    @Option(help: "For an s3: --from: a file of AWS_*=value lines (default: the AWS_* environment).") var credentialsFile: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535, got \(port)") }
        if credentialsFile != nil, from?.hasPrefix("s3:") != true { throw ValidationError("--credentials-file goes with an s3: --from") }
    }

    func run() async throws {
        let copy = from.map { target in
            var copy = DatabaseSpec.Backup(target: target)
            copy.credentialsFile = credentialsFile
            return copy
        }
        let (spec, backup, _) = try database.backup(copy: copy)
        guard let target = ISO8601DateFormatter.zonalFractional.date(from: toTime) ?? ISO8601DateFormatter().date(from: toTime) else {
            throw CommandFailure("--to-time must be an ISO 8601 time such as 2026-11-26T14:30:00Z, got \(toTime)")
        }
        let directory = URL(fileURLWithPath: into).standardizedFileURL.path
        let (password, _) = try database.password()
        let restore = PointInTimeRestore(
            destination: backup, binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory,
            password: password, logger: Logger(label: "zonal.db"))
        let outcome = try await restore.restore(to: target, into: directory, port: port)
        print(
            "restored to \(toTime) from base backup \(outcome.backup.name) into \(outcome.directory); start it with pg_ctl -D \(outcome.directory) (as postgres)"
        )
    }
}
