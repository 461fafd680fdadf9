import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalProcess

/// One node's agent: owns its PostgreSQL server's lifecycle and, through the coordinator, its
/// part in the cluster. Each cycle it observes the server and the cluster, asks ``DatabaseHA``
/// what to do, and does it; a separate fence watch stops a primary whose lease is about to lapse
/// even while a cycle is stuck on slow I/O.
public actor DatabaseAgent: Service {
    public nonisolated let plan: DatabaseNodePlan
    let controller: PostgresController
    let session: PostgresSession
    /// The cluster's password, which every connection to a server of the cluster proves.
    let password: ClusterPassword
    let store: ClusterStore
    /// Where this node's role is published for balancers (`/zonal/roles/<service>/<node>`).
    let roles: ServiceRoleDirectory
    let clock: any ZonalClock
    let logger: Logger
    private let core: DatabaseHA

    private let lease: AgentLease
    private var keeper: LeaseKeeper? { lease.keeper }
    /// Whom the server was last configured to stream from.
    private var following: String?
    private var configuration: ServerConfiguration
    private var server: ChildProcess?
    /// Set while the server runs as primary; the fence watch reads it.
    private var runningAsPrimary = false
    /// When this agent first saw the cluster without a leader, for event durations.
    private var leaderlessSince: (at: ContinuousClock.Instant, previous: String?)?
    private var lastLeader: String?
    public private(set) var lastDecision: DatabaseHA.Decision?
    public private(set) var lastCluster: DatabaseHA.ClusterView?
    public private(set) var status: MemberStatus
    /// The last look at the running server from inside (replay position and lag of a standby).
    private var lastObservation: PostgresSession.Observation?
    /// Rung by the leader watch; ends the wait for the next cycle.
    private let alarm = CycleAlarm(granularity: .milliseconds(50))
    /// The base backup schedule, running while this node is the primary.
    private var baseBackups: Task<Void, Never>?
    /// Whether the server's credentials file for an S3 backup target is in place (nil: not looked yet).
    private var backupCredentialsReady: Bool?
    /// The role last published for balancers, and on which lease: written again only on change.
    private var publishedRole: (role: ServiceRoles.Role?, lease: LeaseID)?
    /// The position last published as the leader's, so an idle primary writes nothing.
    private var publishedPosition: WALPosition?
    /// Whether this primary term has made the standbys' replication slots.
    private var slotsKept = false

    public init(plan: DatabaseNodePlan, coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) throws {
        self.plan = plan
        let password = try ClusterPassword.loadOrCreate(file: plan.passwordFile)
        self.password = password
        self.controller = try PostgresController(
            binDirectory: plan.binDirectory, dataDirectory: plan.dataDirectory, logFile: plan.serverLogFile,
            password: password, logger: logger)
        self.session = PostgresSession(host: plan.me.host, port: plan.me.port, password: password, logger: logger)
        self.store = ClusterStore(coordinator: coordinator, service: plan.service)
        self.roles = ServiceRoleDirectory(coordinator: coordinator, service: plan.service)
        self.clock = clock
        self.logger = logger
        self.lease = AgentLease(coordinator: coordinator, ttl: plan.settings.ttl, clock: clock, logger: logger)
        self.core = DatabaseHA(node: plan.me.name, settings: plan.settings)
        let archiveCommand = plan.backup.map {
            "\"\(ZonalExecutable.current)\" db archive-wal \($0.commandArguments(credentialsFile: plan.serverBackupCredentialsFile)) %p %f"
        }
        self.configuration = ServerConfiguration(
            listenAddress: plan.me.host, port: plan.me.port, strictSynchronous: plan.settings.synchronousMode == .strict,
            archiveCommand: archiveCommand, parameters: plan.parameters)
        self.status = MemberStatus(
            name: plan.me.name, zone: plan.me.zone, role: .stopped, position: nil,
            postgresAddress: plan.me.postgresAddress, apiAddress: plan.me.apiAddress, promotable: plan.me.promotable)
    }

    public func run() async throws {
        _ = try await controller.inspect()  // wrong owner, wrong version: say so before anything else
        try writePassfiles()
        if let backup = plan.backup, backup.isDirectory {
            try await backup.catalog().prepare(for: controller.account)
        }
        let watch = Task { await self.wakeOnLeaderChange() }
        let fencing = Task { await self.watchLease() }
        defer {
            watch.cancel()
            fencing.cancel()
        }
        // SIGTERM ends the cycles; then the server stops cleanly and the leader key is given up.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let next = await self.cycle()
                await self.alarm.sleep(until: next, clock: self.clock)
            }
        }
        await shutdown()
    }

    /// Stops the server cleanly and gives up the leader key, so a standby takes over at once
    /// instead of waiting for the lease.
    private func shutdown() async {
        baseBackups?.cancel()
        guard server != nil else { return }
        try? await controller.stop(.fast)
        runningAsPrimary = false
        server = nil
        try? await store.releaseLeadership(node: plan.me.name)
        await lease.revoke()
    }

    // MARK: the cycle

    /// One observe-decide-act round; returns when the next must start at the latest.
    func cycle() async -> MonotonicInstant {
        await lease.ensure()
        refreshBackupCredentials()
        let local = await observeLocal()
        let cluster = await readCluster()
        if let cluster { await publish(local, cluster: cluster) }
        trackLeadership(cluster)
        lastCluster = cluster
        let decision = core.decide(.init(postgres: local, leaseValidUntil: keeper?.validUntil, cluster: cluster, following: following), now: clock.now)
        if decision.description != lastDecision?.description || !decision.actions.isEmpty {
            logger.info("\(decision)")
        }
        lastDecision = decision
        for action in decision.actions {
            do {
                try await perform(action, cluster: cluster)
            } catch {
                logger.error("could not \(action): \(error)")
                return decision.decideAgainBy
            }
        }
        return decision.actions.isEmpty ? decision.decideAgainBy : clock.now
    }

    /// Keeps the server's credentials file for an S3 backup target in step with its source (a
    /// store's root secret appears once the store's first front end ran); says once while the
    /// keys are missing, and once when they arrive.
    private func refreshBackupCredentials() {
        guard let backup = plan.backup, !backup.isDirectory else { return }
        let ready = backup.writeServerCredentials(to: plan.serverBackupCredentialsFile, owner: controller.account.fileOwner)
        if ready != backupCredentialsReady {
            if ready {
                logger.notice("WAL archiving to \(backup.location) has its credentials")
                // The bucket before the first segment: archiving must not wait for a base backup.
                let logger = self.logger
                Task {
                    do { try await backup.catalog().store.prepare() } catch { logger.warning("cannot prepare the backup target \(backup.location): \(error)") }
                }
            } else {
                logger.warning("no credentials for the backup target \(backup.location) yet; WAL waits in pg_wal until they appear")
            }
        }
        backupCredentialsReady = ready
    }

    /// One warning per damaged key per 10 s: the agent reads the cluster every cycle.
    private static let unreadableValues = RateLimitedLog()

    /// The cluster, with a leader key left by this node's previous run moved onto this run's lease.
    private func readCluster() async -> DatabaseHA.ClusterView? {
        guard let reading = try? await store.read() else { return nil }
        for key in reading.unreadable {
            Self.unreadableValues.log(logger, .warning, "ignoring a value in the coordinator that does not decode", key: key, metadata: ["key": "\(key)"])
        }
        if reading.view.leader == plan.me.name, let keeper, let held = reading.leaderLease, held != keeper.lease.id {
            if (try? await store.rebindLeadership(node: plan.me.name, lease: keeper.lease.id)) == true {
                logger.notice("took over the leader key held by this node's previous run (lease \(held))")
                return reading.view
            }
            return nil
        }
        return reading.view
    }

    private func observeLocal() async -> DatabaseHA.LocalServer {
        let state: PostgresController.DataDirectoryState
        do {
            state = try await controller.inspect()
        } catch {
            logger.error("\(error)")
            return .starting  // nothing to decide on until an operator fixes it
        }
        guard case .present(let isStandby) = state else {
            runningAsPrimary = false
            return .absent
        }
        if serverIsRunning {
            do {
                let observed = try await session.observe(walTimeline: controller.walTimeline())
                lastObservation = observed
                runningAsPrimary = !observed.inRecovery
                if observed.inRecovery {
                    return .standby(observed.position, upstream: observed.streaming ? following : nil)
                }
                return .primary(observed.position, synchronous: observed.synchronous)
            } catch {
                return .starting
            }
        }
        runningAsPrimary = false
        server = nil
        return .stopped(await controller.stoppedPosition(), wasPrimary: !isStandby)
    }

    /// The server runs, or is starting: its guard is alive (before the postmaster writes its PID
    /// file) or the PID file names a live process.
    private var serverIsRunning: Bool {
        if let server, kill(server.pid, 0) == 0 { return true }
        guard let pid = PostgresController.postmasterPID(at: plan.dataDirectory + "/postmaster.pid") else { return false }
        return kill(pid, 0) == 0
    }

    private func publish(_ local: DatabaseHA.LocalServer, cluster: DatabaseHA.ClusterView) async {
        var status = self.status
        status.updatedAt = Date()
        status.upstream = nil
        status.replayed = nil
        status.replayLagSeconds = nil
        switch local {
        case .absent:
            status.role = .uninitialized
            status.position = nil
        case .starting: status.role = .stopped
        case .stopped(let position, _):
            status.role = .stopped
            status.position = position
        case .primary(let position, _):
            status.role = .primary
            status.position = position
        case .standby(let position, let upstream):
            status.role = .standby
            status.position = position
            status.upstream = upstream
            status.replayed = lastObservation?.replayed
            status.replayLagSeconds = lastObservation?.replayLagSeconds
        }
        self.status = status
        guard let keeper else { return }
        try? await store.publish(status, lease: keeper.lease.id)
        await publishRole(Self.role(of: local, leader: cluster.leader, me: plan.me.name), lease: keeper.lease.id)
        if cluster.leader == plan.me.name, case .primary(let position, _) = local {
            await keepPrimaryDuties(position)
        } else {
            slotsKept = false
            publishedPosition = nil
            baseBackups?.cancel()
            baseBackups = nil
        }
    }

    /// What balancers route by: primary only while running as one and holding the leader key,
    /// replica only while streaming from an upstream; nothing otherwise.
    static func role(of local: DatabaseHA.LocalServer, leader: String?, me: String) -> ServiceRoles.Role? {
        switch local {
        case .primary where leader == me: .primary
        case .standby(_, let upstream?) where !upstream.isEmpty: .replica
        default: nil
        }
    }

    private func publishRole(_ role: ServiceRoles.Role?, lease: LeaseID) async {
        if let published = publishedRole, published.role == role, published.lease == lease { return }
        do {
            try await roles.publish(role, node: plan.me.name, lease: lease)
            publishedRole = (role, lease)
        } catch {
            logger.warning("could not publish this node's role \(role?.rawValue ?? "none") for balancers: \(error)")
        }
    }

    /// What only the primary does: publish its position when it moves, keep the standbys'
    /// replication slots (once per term, again after a failure), and take due base backups.
    private func keepPrimaryDuties(_ position: WALPosition) async {
        if publishedPosition != position {
            let published = LeaderPosition(name: plan.me.name, position: position, history: controller.history(ofTimeline: position.timeline))
            if (try? await store.publishPosition(published)) != nil { publishedPosition = position }
        }
        if !slotsKept {
            do {
                try await session.keepReplicationSlots(Set(plan.peers.map { ServerConfiguration.slotName(for: $0.name) }))
                slotsKept = true
            } catch {
                logger.warning("could not keep replication slots: \(error)")
            }
        }
        scheduleBaseBackup()
    }

    private func trackLeadership(_ cluster: DatabaseHA.ClusterView?) {
        guard let cluster else { return }
        switch cluster.leader {
        case nil:
            if leaderlessSince == nil { leaderlessSince = (ContinuousClock.now, lastLeader) }
        case plan.me.name:
            break  // measured until the promotion ends
        case let other?:
            leaderlessSince = nil
            lastLeader = other
        }
    }

    /// On the primary: base backups on their schedule (the one scheduled `zonal backup` runs
    /// follow), each followed by retention. The catalog's newest backup counts as the last
    /// success, so a restart or a new primary does not back up again at once.
    private func scheduleBaseBackup() {
        guard let backup = plan.backup, baseBackups == nil else { return }
        let schedule = BackupSchedule(timetable: BackupTimetable(interval: backup.settings.interval), clock: clock)
        let controller = self.controller
        let me = plan.me
        let staging = plan.backupStagingDirectory
        let logger = self.logger
        baseBackups = Task {
            let lastSuccess = try? await backup.catalog().list().last?.finishedAt
            await schedule.run(from: .init(lastSuccess: lastSuccess)) {
                try await backup.catalog().takeAndPrune(
                    fromHost: me.host, port: me.port, node: me.name, using: controller, staging: staging, retention: backup.settings.retention)
            } finished: { result, _ in
                switch result {
                case .success(let (record, pruned)):
                    logger.notice(
                        "base backup \(record.name) taken; retention removed \(pruned.backups.count) backup(s) and \(pruned.segments.count) WAL segment(s)")
                case .failure(let error):
                    logger.error("scheduled base backup failed: \(error)")
                }
            }
        }
    }

    // MARK: actions

    private func perform(_ action: DatabaseHA.Action, cluster: DatabaseHA.ClusterView?) async throws {
        let me = plan.me.name
        switch action {
        case .bootstrap:
            guard let keeper, try await store.claimBootstrap(node: me, lease: keeper.lease.id) else { return }
            try await controller.initialize(password: password)
            try await startServer(following: nil)
            try await store.record(DatabaseEvent(kind: .bootstrap, from: nil, to: me, cause: "new cluster", duration: .zero))
        case .clone(let leader):
            let peer = try plan.peer(leader)
            try await controller.cloneFrom(host: peer.host, port: peer.port)
            try await startServer(following: leader)
        case .startStandby(let leader):
            try await startServer(following: leader)
        case .startPrimary:
            configuration.synchronous = SynchronousSet(members: (cluster?.synchronous.members ?? []).filter { $0 != me })
            try await startServer(following: nil)
        case .rejoin(let leader):
            try await rejoin(leader)
        case .follow(let leader):
            following = leader
            configuration.upstream = upstream(leader)
            try controller.write(configuration, standby: true)
            try await controller.reload()
        case .acquireLeadership:
            guard let keeper else { return }
            _ = try await store.acquireLeadership(node: me, lease: keeper.lease.id)
        case .promote(let synchronous):
            try await promote(synchronous: synchronous, cluster: cluster)
        case .fence(let why):
            try await fence(why)
        case .stepDown(let target):
            try await controller.stop(.fast)
            runningAsPrimary = false
            await session.disconnect()
            if let position = try await controller.controlData().position {
                try await store.publishPosition(
                    LeaderPosition(name: me, position: position, history: controller.history(ofTimeline: position.timeline), final: true))
            }
            try await store.releaseLeadership(node: me)
            logger.notice("stepped down for \(target)")
        case .configureSynchronousStandbys(let set):
            configuration.synchronous = set
            try controller.write(configuration, standby: false)
            try await controller.reload()
        case .publishSynchronousSet(let set):
            _ = try await store.publishSynchronous(set, leader: me)
        }
    }

    private func startServer(following leader: String?) async throws {
        following = leader
        configuration.upstream = leader.map(upstream)
        try controller.write(configuration, standby: leader != nil || isRecovering)
        server = try await controller.start()
    }

    /// A stopped data directory that was a standby stays one until promoted.
    private var isRecovering: Bool {
        FileManager.default.fileExists(atPath: plan.dataDirectory + "/standby.signal")
    }

    private func upstream(_ leader: String) -> ServerConfiguration.Upstream {
        let peer = plan.peers.first { $0.name == leader }
        return .init(
            host: peer?.host ?? leader, port: peer?.port ?? 5432, slot: ServerConfiguration.slotName(for: plan.me.name), applicationName: plan.me.name,
            passfile: plan.serverPassfile)
    }

    /// The server's own password file (its WAL receiver reads it) and the one for people and
    /// tools beside the password.
    private func writePassfiles() throws {
        let nodeDirectory = (plan.serverPassfile as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: nodeDirectory, withIntermediateDirectories: true)
        try controller.account.own(nodeDirectory)
        try password.writePassfile(at: plan.serverPassfile, owner: controller.account.fileOwner)
        try password.writePassfile(at: ClusterPassword.clientPassfile(besides: plan.passwordFile))
    }

    private func rejoin(_ leader: String) async throws {
        let peer = try plan.peer(leader)
        if serverIsRunning {
            try await controller.stop(.fast)
            await session.disconnect()
        }
        runningAsPrimary = false
        server = nil
        do {
            // pg_rewind first finishes crash recovery in single-user mode, which refuses standby.signal.
            try controller.write(configuration, standby: false)
            try await controller.rewind(fromHost: peer.host, port: peer.port)
        } catch {
            let aside = try controller.setAside()
            logger.error("pg_rewind failed (\(error)); moved the data directory to \(aside) and cloning from \(leader) afresh")
            try await controller.cloneFrom(host: peer.host, port: peer.port)
        }
        try await startServer(following: leader)
    }

    private func promote(synchronous: SynchronousSet?, cluster: DatabaseHA.ClusterView?) async throws {
        let me = plan.me.name
        if let synchronous {
            configuration.synchronous = synchronous
            try controller.write(configuration, standby: true)
            try await controller.reload()
        }
        try await controller.promote()
        // A checkpoint writes the new timeline into the control file, which pg_rewind reads when
        // the old primary rejoins; without it pg_rewind would see one timeline and do nothing.
        try? await session.checkpoint()
        if let synchronous { _ = try await store.publishSynchronous(synchronous, leader: me) }
        following = nil
        let switchover = cluster?.switchover?.target == me
        let since = leaderlessSince
        let duration = since.map { ContinuousClock.now - $0.at } ?? .zero
        let previous = since?.previous
        let cause = switchover ? "switchover requested" : "the leader key of \(previous ?? "the primary") expired"
        let event = DatabaseEvent(kind: switchover ? .switchover : .failover, from: previous, to: me, cause: cause, duration: duration)
        logger.notice("\(event)")
        leaderlessSince = nil
        lastLeader = me
        try? await store.record(event)
        if switchover { try? await store.clearSwitchover() }
    }

    private func fence(_ why: String) async throws {
        logger.critical("fencing: stopping PostgreSQL at once: \(why)")
        try await controller.stop(.immediate)
        runningAsPrimary = false
        await session.disconnect()
    }

    // MARK: background watches

    /// Stops a primary before its lease can expire, independently of the cycle.
    private func watchLease() async {
        while !Task.isCancelled {
            let deadline = (keeper?.validUntil ?? clock.now + plan.settings.loopWait) - plan.settings.fenceMargin
            if runningAsPrimary, clock.now >= deadline {
                try? await fence("lease not renewed; it may expire at \(keeper?.validUntil.description ?? "?")")
            }
            let nextCheck = min(max(deadline, clock.now + .milliseconds(50)), clock.now + .milliseconds(250))
            guard (try? await clock.sleep(until: nextCheck)) != nil else { return }
        }
    }

    /// Wakes the cycle as soon as the leader key changes (a lost primary is noticed at once).
    private func wakeOnLeaderChange() async {
        let leaderKey = store.leaderKey
        await PrefixFollower(coordinator: store.coordinator, prefix: leaderKey, clock: clock).run(
            onReading: { _ in },
            onEvent: { event in if event.keyValue.key == leaderKey { alarm.ring() } })
    }
}
