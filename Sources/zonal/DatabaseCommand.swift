import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalDatabase
import ZonalObservability
import ZonalSupervisor

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Highly available PostgreSQL: node agents, status, switchover.",
        subcommands: [DatabaseAgentCommand.self, DatabaseStatusCommand.self, DatabaseSwitchoverCommand.self, DatabaseBackupCommand.self, DatabaseRestoreCommand.self,
                      DatabaseGuardCommand.self, ArchiveWALCommand.self, RestoreWALCommand.self]
    )
}

/// Which database service of the topology a command is about.
struct DatabaseServiceOptions: ParsableArguments {
    @OptionGroup var topologyOptions: TopologyOptions
    @Option(help: "The database service (default: the topology's only service of kind postgres).") var service: String?

    func resolve() throws -> (topology: Topology, service: Topology.Service) {
        let topology = try topologyOptions.load()
        let databases = topology.services.filter { if case .postgres = $0.kind { true } else { false } }
        if let service {
            guard let found = databases.first(where: { $0.name == service }) else {
                throw CommandFailure("the topology has no service of kind postgres named \(service); it has: \(databases.map(\.name).joined(separator: ", "))")
            }
            return (topology, found)
        }
        guard databases.count == 1, let only = databases.first else {
            throw CommandFailure(databases.isEmpty ? "the topology has no service of kind postgres" : "name one with --service: \(databases.map(\.name).joined(separator: ", "))")
        }
        return (topology, only)
    }

    /// The service's backup settings, with `{service}` replaced; fails when it has none.
    func backup() throws -> (DatabaseSpec, DatabaseSpec.Backup, Topology.Service) {
        let (_, service) = try resolve()
        guard case .postgres(let spec) = service.kind, var backup = spec.backup else {
            throw CommandFailure("service \(service.name) has no `backup` section (database.backup.directory) in the topology")
        }
        backup.directory = URL(fileURLWithPath: backup.directory.replacingOccurrences(of: "{service}", with: service.name)).standardizedFileURL.path
        return (spec, backup, service)
    }

    func store() throws -> (ClusterStore, Topology.Service) {
        let (topology, service) = try resolve()
        let coordinator = try EtcdCoordinator(endpoints: topology.coordinator.clientEndpoints)
        return (ClusterStore(coordinator: coordinator, service: service.name), service)
    }
}

struct DatabaseAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the agent of one node: its PostgreSQL server and its part in failover.",
        discussion: "`zonal up` starts one per node of each postgres service; run it by hand on machines of your own."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The node this agent runs on.") var node: String
    @Option(help: "Where data directories go unless the topology says otherwise.") var stateDir: String = ".zonal"
    @Option(help: "Coordinator endpoint to use instead of the topology's (e.g. a node-local etcd proxy); repeatable.")
    var coordinator: [String] = []

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        let (topology, service) = try database.resolve()
        var logger = Logger(label: "zonal.db")
        logger[metadataKey: "service"] = "\(service.name)"
        logger[metadataKey: "node"] = "\(node)"
        let agent: DatabaseAgent
        do {
            var plan = try DatabaseNodePlan(topology: topology, service: service.name, node: node, stateDirectory: stateDir)
            if case .postgres(let spec) = service.kind, spec.dataDirectory == nil, !PostgresController.serverAccountCanReach(plan.dataDirectory) {
                // A state directory under a private home directory: PostgreSQL's own user cannot
                // enter it, so the data goes where it can.
                let fallback = try DatabaseNodePlan(topology: topology, service: service.name, node: node, stateDirectory: "/var/lib/zonal/\(topology.name)")
                logger.notice("the postgres user cannot reach \(plan.dataDirectory); keeping the data in \(fallback.dataDirectory) instead")
                plan = fallback
            }
            let endpoints = self.coordinator.isEmpty ? topology.coordinator.clientEndpoints : self.coordinator
            let coordinator = try EtcdCoordinator(endpoints: endpoints, requestTimeout: .seconds(1))
            agent = try DatabaseAgent(plan: plan, coordinator: coordinator, logger: logger)
        } catch let error as DatabaseError {
            throw CommandFailure(error.description)
        }
        let plan = agent.plan
        print("agent of \(plan.me.name) for \(service.name): PostgreSQL on \(plan.me.postgresAddress), API on \(plan.me.apiAddress), data in \(plan.dataDirectory)")
        let api = DatabaseAgentAPI(agent: agent).application(host: plan.me.host, port: plan.me.apiPort, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent, api], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as DatabaseError {
            throw CommandFailure(error.description)
        }
    }
}

struct DatabaseStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Role, timeline, WAL lag and synchronous state of every node, and recent failovers."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (store, service) = try database.store()
        let view = try await store.read().view
        let events = try await store.events()
        if json {
            try printJSON(DatabaseStatusReport(service: service.name, leader: view.leader, members: view.members, synchronous: view.synchronous, events: events))
            return
        }
        print(DatabaseStatusTable(service: service, view: view, events: events).render())
    }
}

struct DatabaseStatusReport: Encodable {
    var service: String
    var leader: String?
    var members: [MemberStatus]
    var synchronous: SynchronousSet
    var events: [DatabaseEvent]
}

struct DatabaseSwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Hand the primary role to another node without losing an acknowledged commit.",
        discussion: "The primary stops cleanly once the target streams from it, so the target has every commit; the target then takes the leader key and is promoted, and the old primary rejoins as a standby."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The node to become primary.") var to: String
    @Option(help: "How long to wait for the switchover, e.g. 30s.") var timeout: String = "30s"

    func run() async throws {
        let (store, service) = try database.store()
        guard service.nodes.contains(to) else {
            throw CommandFailure("\(to) is not a node of \(service.name); its nodes: \(service.nodes.joined(separator: ", "))")
        }
        guard let limit = Duration(configText: timeout) else { throw CommandFailure("--timeout must be a duration such as 30s, got \(timeout)") }
        let view = try await store.read().view
        guard let leader = view.leader else { throw CommandFailure("\(service.name) has no primary now; nothing to switch over") }
        guard leader != to else { throw CommandFailure("\(to) is already the primary") }
        guard let target = view.members.first(where: { $0.name == to }), target.isStreaming(from: leader) else {
            throw CommandFailure("\(to) does not stream from \(leader) now; a switchover to it could lose commits")
        }
        // The request lives on a lease: an abandoned switchover ends by itself.
        let lease = try await store.coordinator.grantLease(ttl: limit)
        try await store.requestSwitchover(SwitchoverRequest(from: leader, target: to), lease: lease.id)
        let started = ContinuousClock.now
        while ContinuousClock.now - started < limit {
            try await Task.sleep(for: .milliseconds(100))
            let now = try await store.read().view
            if now.leader == to, now.members.first(where: { $0.name == to })?.role == .primary {
                try? await store.coordinator.revokeLease(lease.id)
                print("switchover: \(to) is the primary (was \(leader)) after \((ContinuousClock.now - started).zonalDescription)")
                return
            }
        }
        try? await store.coordinator.revokeLease(lease.id)
        throw CommandFailure("switchover to \(to) did not finish within \(limit.zonalDescription); \(leader) stays the primary unless it stepped down (see `zonal db status`)")
    }
}

/// The table `zonal db status` prints.
struct DatabaseStatusTable {
    var service: Topology.Service
    var view: DatabaseHA.ClusterView
    var events: [DatabaseEvent]

    func render() -> String {
        var lines = ["\(service.name): leader \(view.leader ?? "none"); synchronous standbys \(view.synchronous)"]
        lines.append("NODE        ZONE        ROLE        TIMELINE  WAL           LAG BYTES  LAG S   UPSTREAM  SYNC")
        let leaderLSN = view.leaderPosition?.position.lsn
        for name in service.nodes {
            guard let member = view.members.first(where: { $0.name == name }) else {
                lines.append(pad(name, 12) + "(no agent)")
                continue
            }
            let lag = member.role == .standby ? leaderLSN.map { String($0.bytes(after: member.position?.lsn ?? .zero)) } ?? "?" : "-"
            let seconds = member.replayLagSeconds.map { String(format: "%.1f", $0) } ?? "-"
            let sync = view.synchronous.members.contains(name) ? "sync" : (member.role == .standby ? "async" : "-")
            lines.append(pad(name, 12) + pad(member.zone, 12) + pad(member.role.rawValue, 12) + pad(member.position.map { "\($0.timeline)" } ?? "-", 10)
                         + pad(member.position.map { "\($0.lsn)" } ?? "-", 14) + pad(lag, 11) + pad(seconds, 8) + pad(member.upstream ?? "-", 10) + sync)
        }
        if !events.isEmpty {
            lines.append("recent changes of primary:")
            let formatter = ISO8601DateFormatter()
            for event in events.suffix(5) { lines.append("  \(formatter.string(from: event.at)) \(event)") }
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Started by an agent in front of its PostgreSQL server; see ``ServerGuard``.
struct DatabaseGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run a PostgreSQL server that stops at once when its agent dies (started by the agent).",
        shouldDisplay: false
    )

    @Option(help: "The agent's PID.") var parent: Int32
    @Argument(parsing: .postTerminator, help: "The server's command line.") var command: [String]

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("give the server's command after --") }
        ServerGuard.run(command, parent: parent)
    }
}

struct DatabaseBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of the current primary now, then apply retention.",
        discussion: "Backups go to the service's database.backup.directory (base/ and the archived WAL in wal/); the primary's agent also takes them every database.backup.interval."
    )

    @OptionGroup var database: DatabaseServiceOptions

    func run() async throws {
        let (spec, backup, service) = try database.backup()
        let (store, _) = try database.store()
        guard let leader = try await store.read().view.leader, let topology = try? database.topologyOptions.load(), let node = topology.node(named: leader) else {
            throw CommandFailure("\(service.name) has no primary now; a base backup needs one")
        }
        let catalog = BackupCatalog(directory: backup.directory)
        do {
            let controller = try PostgresController(binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory, dataDirectory: backup.directory,
                                                    logFile: backup.directory + "/backup.log", logger: Logger(label: "zonal.db"))
            let record = try await catalog.take(fromHost: node.address, port: service.port, node: leader, using: controller)
            let pruned = try catalog.prune(BackupRetention(keep: backup.keep, keepDays: backup.keepDays))
            print("base backup \(record.name) of \(leader) in \(backup.directory)/base (WAL from \(record.startSegment)); retention removed \(pruned.backups.count) backup(s), \(pruned.segments.count) WAL segment(s)")
        } catch let error as DatabaseError {
            throw CommandFailure(error.description)
        }
    }
}

struct DatabaseRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Build a new PostgreSQL instance as the cluster was at a moment (point-in-time recovery).",
        discussion: "Takes the newest base backup that finished before --to-time, replays the archived WAL up to that moment and stops; DIR is then a data directory to start with pg_ctl. The cluster itself is not touched."
    )

    @OptionGroup var database: DatabaseServiceOptions
    @Option(help: "The moment, ISO 8601 (2026-11-26T14:30:00Z, fractions allowed).") var toTime: String
    @Option(help: "The new data directory (absent or empty).") var into: String
    @Option(help: "Port on 127.0.0.1 used while replaying.") var port: Int = 15_432

    func run() async throws {
        let (spec, backup, _) = try database.backup()
        let formatter = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let target = fractional.date(from: toTime) ?? formatter.date(from: toTime) else {
            throw CommandFailure("--to-time must be an ISO 8601 time such as 2026-11-26T14:30:00Z, got \(toTime)")
        }
        let directory = URL(fileURLWithPath: into).standardizedFileURL.path
        let restore = PointInTimeRestore(catalog: BackupCatalog(directory: backup.directory), binDirectory: spec.binDirectory ?? DatabaseNodePlan.defaultBinDirectory,
                                         logger: Logger(label: "zonal.db"))
        do {
            let outcome = try await restore.restore(to: target, into: directory, port: port)
            print("restored to \(toTime) from base backup \(outcome.backup.name) into \(outcome.directory); start it with pg_ctl -D \(outcome.directory) (as postgres)")
        } catch let error as DatabaseError {
            throw CommandFailure(error.description)
        }
    }
}

/// PostgreSQL's `archive_command` (run by the server as its own user).
struct ArchiveWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive-wal", abstract: "Archive one WAL segment (PostgreSQL's archive_command).", shouldDisplay: false)

    @Option(help: "The archive directory.") var to: String
    @Argument(help: "The segment's path (%p).") var path: String
    @Argument(help: "The segment's name (%f).") var name: String

    func run() throws {
        do { try WALArchive(directory: to).archive(source: path, name: name) } catch let error as DatabaseError { throw CommandFailure(error.description) }
    }
}

/// The `restore_command` of point-in-time recovery: exit 1 when the archive has no such file
/// (the end of recovery), a fatal status when the file is damaged, so recovery stops with the reason.
struct RestoreWALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore-wal", abstract: "Restore one archived WAL file (PostgreSQL's restore_command).", shouldDisplay: false)

    @Option(help: "The archive directory.") var from: String
    @Argument(help: "The file's name (%f).") var name: String
    @Argument(help: "Where PostgreSQL wants it (%p).") var path: String

    func run() throws {
        do {
            guard try WALArchive(directory: from).restore(name: name, to: path) else { throw ExitCode(1) }
        } catch let error as DatabaseError {
            FileHandle.standardError.write(Data("zonal db restore-wal: \(error)\n".utf8))
            // Above 125: PostgreSQL aborts recovery instead of treating it as the end of the archive.
            throw ExitCode(126)
        }
    }
}
