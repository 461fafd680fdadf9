import ArgumentParser
import Logging
import ZonalCore
import ZonalDatabase

struct DatabaseBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of the current primary now, then apply retention.",
        discussion:
            "Backups go to the service's database.backup.directory (base/ and the archived WAL in wal/); the primary's agent also takes them every database.backup.interval."
    )

    @OptionGroup var database: DatabaseServiceOptions

    func run() async throws {
        let (spec, backup, service) = try database.backup()
        let (store, _) = try database.store()
        guard let leader = try await store.read().view.leader, let topology = try? database.topologyOptions.load(), let node = topology.node(named: leader)
        else {
            throw CommandFailure("\(service.name) has no primary now; a base backup needs one")
        }
        let catalog = BackupCatalog(directory: backup.directory)
        let (password, _) = try database.password()
        let controller = try PostgresController(
            binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory, dataDirectory: backup.directory,
            logFile: backup.directory + "/backup.log", password: password, logger: Logger(label: "zonal.db"))
        let (record, pruned) = try await catalog.takeAndPrune(
            fromHost: node.address, port: service.port, node: leader, using: controller,
            retention: backup.retention)
        print(
            "base backup \(record.name) of \(leader) in \(backup.directory)/base (WAL from \(record.startSegment)); retention removed \(pruned.backups.count) backup(s), \(pruned.segments.count) WAL segment(s)"
        )
    }
}
