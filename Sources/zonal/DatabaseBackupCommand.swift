import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalDatabase

struct DatabaseBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of the current primary now, then apply retention.",
        discussion:
            "Backups go to the service's database.backup.target, a directory or an S3 bucket (base/ and the archived WAL in wal/); the primary's agent also takes them every database.backup.interval."
    )

    @OptionGroup var database: DatabaseServiceOptions

    func run() async throws {
        let (store, service) = try database.store()
        let topology = try database.topologyOptions.load()
        guard let leader = try await store.read().view.leader, let node = topology.node(named: leader) else {
            throw CommandFailure("\(service.name) has no primary now; a base backup needs one")
        }
        let (spec, backup, _) = try database.backup(zone: node.zone)
        let (password, _) = try database.password()
        // pg_basebackup writes its tar files next to the agents' directories, then they go to the target.
        let work = "\(URL(fileURLWithPath: database.stateDirectory(topology)).standardizedFileURL.path)/\(service.name)/manual-backup"
        let controller = try PostgresController(
            binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory, dataDirectory: work + "/data",
            logFile: work + "/backup.log", password: password, logger: Logger(label: "zonal.db"))
        let (record, pruned) = try await backup.catalog().takeAndPrune(
            fromHost: node.address, port: service.port, node: leader, using: controller, staging: work + "/staging",
            retention: backup.settings.retention)
        print(
            "base backup \(record.name) of \(leader) in \(backup.location)/base (WAL from \(record.startSegment)); retention removed \(pruned.backups.count) backup(s), \(pruned.segments.count) WAL segment(s)"
        )
    }
}
