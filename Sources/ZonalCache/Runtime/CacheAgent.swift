import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability
import ZonalProcess

/// One node's agent: owns its Redis server's lifecycle and, through the coordinator, its part in
/// failover. Each cycle it observes Redis and the service, asks ``CacheHA`` what to do, and does
/// it; a separate fence watch pauses writes on a master whose lease is about to lapse even while
/// a cycle is stuck on slow I/O.
public actor CacheAgent: Service {
    public nonisolated let plan: CacheNodePlan
    let server: RedisServer
    let store: CacheStore
    /// Where this node's role is published for proxies and balancers (`/zonal/roles/<service>/<node>`).
    let roles: ServiceRoleDirectory
    let clock: any ZonalClock
    let logger: Logger
    private let core: CacheHA
    private let metrics: AgentMetrics

    private let lease: AgentLease
    private var keeper: LeaseKeeper? { lease.keeper }
    /// Whether this agent paused writes on its master (`CLIENT PAUSE WRITE`).
    private var paused = false
    /// Redis was started with nobody to follow: pause its writes as soon as it answers.
    private var pauseOnceUp = false
    /// Whom Redis was last told to replicate from.
    private var following: String?
    /// Set while Redis runs as an unpaused master; the fence watch reads it.
    private var writableMaster = false
    var isWritableMaster: Bool { writableMaster }
    private var leaderlessSince: (at: MonotonicInstant, previous: String?)?
    private var seenLeader = false
    /// The lease the last cycle held.
    private var heldLease: LeaseID?
    private var lastLeader: String?
    private var lastReplication: ReplicationInfo?
    /// Rung by the leader watch; ends the wait for the next cycle.
    private let alarm = CycleAlarm(granularity: .milliseconds(20))
    /// What was last published, to write the coordinator only on change.
    private var publishedMember: (member: CacheMember, lease: LeaseID)?
    private var publishedRole: (role: ServiceRoles.Role?, lease: LeaseID)?
    public private(set) var lastDecision: CacheHA.Decision?
    public private(set) var lastCluster: CacheHA.ClusterView?
    public private(set) var status: CacheMember

    public init(plan: CacheNodePlan, coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) throws {
        self.plan = plan
        self.server = RedisServer(plan: plan, password: try CachePassword.loadOrCreate(file: plan.passwordFile), logger: logger)
        self.store = CacheStore(coordinator: coordinator, service: plan.service)
        self.roles = ServiceRoleDirectory(coordinator: coordinator, service: plan.service)
        self.clock = clock
        self.logger = logger
        self.lease = AgentLease(coordinator: coordinator, ttl: plan.settings.ttl, clock: clock, logger: logger)
        self.metrics = AgentMetrics(service: plan.service, node: plan.me.name)
        self.core = CacheHA(node: plan.me.name, peers: plan.peers.map(\.name), settings: plan.settings)
        self.status = CacheMember(
            name: plan.me.name, zone: plan.me.zone, role: .stopped, redisAddress: plan.me.redisAddress, promotable: plan.me.promotable)
    }

    public func run() async throws {
        let watch = Task { await self.wakeOnLeaderChange() }
        let fencing = Task { await self.watchLease() }
        defer {
            watch.cancel()
            fencing.cancel()
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let next = await self.cycle()
                await self.alarm.sleep(until: next, clock: self.clock)
            }
        }
        await shutdown()
    }

    /// Gives up the leader key at once, so a replica takes over without waiting for the lease,
    /// then stops Redis.
    private func shutdown() async {
        if writableMaster { _ = try? await server.command(["CLIENT", "PAUSE", "600000", "WRITE"]) }
        writableMaster = false
        try? await store.leader.release(node: plan.me.name)
        await lease.revoke()
        await server.stop()
    }

    // MARK: the cycle

    /// One observe-decide-act round; returns when the next must start at the latest.
    func cycle() async -> MonotonicInstant {
        await lease.ensure()
        if let id = keeper?.lease.id, id != heldLease {
            // A new lease: the member keys of every node may have lapsed with the old one (a
            // coordinator outage), so candidates wait for every peer's offset as on a first start.
            heldLease = id
            seenLeader = false
        }
        let local = await observeLocal()
        let cluster = await readCluster()
        trackLeadership(cluster)
        if let cluster { await publish(local, cluster: cluster) }
        lastCluster = cluster
        let snapshot = CacheHA.Snapshot(
            redis: local, leaseValidUntil: keeper?.validUntil, cluster: cluster, leaderlessSince: leaderlessSince?.at, seenLeader: seenLeader)
        let decision = core.decide(snapshot, now: clock.now)
        if decision.description != lastDecision?.description || !decision.actions.isEmpty {
            logger.info("\(decision)")
        }
        lastDecision = decision
        for action in decision.actions {
            do {
                try await perform(action)
            } catch {
                logger.error("could not \(action): \(error)")
                return decision.decideAgainBy
            }
        }
        return decision.actions.isEmpty ? decision.decideAgainBy : clock.now
    }

    /// One warning per damaged key per 10 s: the agent reads the service every cycle.
    private static let unreadableValues = RateLimitedLog()

    /// The service, with a leader key left by this node's previous run moved onto this run's lease.
    private func readCluster() async -> CacheHA.ClusterView? {
        guard let reading = try? await store.read() else { return nil }
        for key in reading.unreadable {
            Self.unreadableValues.log(logger, .warning, "ignoring a value in the coordinator that does not decode", key: key, metadata: ["key": "\(key)"])
        }
        if reading.view.leader == plan.me.name, let keeper, let held = reading.leaderLease, held != keeper.lease.id {
            guard (try? await store.leader.rebind(node: plan.me.name, lease: keeper.lease.id)) == true else { return nil }
            logger.notice("took over the leader key held by this node's previous run (lease \(held))")
        }
        return reading.view
    }

    private func observeLocal() async -> CacheHA.LocalServer {
        guard await server.isRunning else {
            writableMaster = false
            lastReplication = nil
            return .stopped
        }
        guard let info = await server.replication() else {
            writableMaster = false
            return .starting
        }
        lastReplication = info
        if pauseOnceUp, info.role == .master {
            if (try? await server.command(["CLIENT", "PAUSE", "3600000", "WRITE"])) != nil {
                paused = true
                pauseOnceUp = false
            }
        }
        switch info.role {
        case .master:
            writableMaster = !paused
            return .master(offset: info.offset, paused: paused)
        case .replica:
            writableMaster = false
            return .replica(offset: info.offset, upstream: following, linkUp: info.linkUp)
        }
    }

    private func trackLeadership(_ cluster: CacheHA.ClusterView?) {
        guard let cluster else { return }
        switch cluster.leader {
        case nil:
            if leaderlessSince == nil { leaderlessSince = (clock.now, lastLeader) }
        case let leader?:
            seenLeader = true
            if leader != plan.me.name {
                leaderlessSince = nil
                lastLeader = leader
            }
        }
    }

    private func publish(_ local: CacheHA.LocalServer, cluster: CacheHA.ClusterView) async {
        var status = CacheMember(
            name: plan.me.name, zone: plan.me.zone, role: .stopped, redisAddress: plan.me.redisAddress, promotable: plan.me.promotable)
        switch local {
        case .stopped, .starting: break
        case .master(let offset, _):
            status.role = .master
            status.offset = offset
        case .replica(let offset, let upstream, let linkUp):
            status.role = .replica
            status.offset = offset
            status.upstream = upstream
            status.linkUp = linkUp
            status.lastIOSeconds = lastReplication?.lastIOSeconds
        }
        self.status = status
        guard let keeper else { return }
        let lease = keeper.lease.id
        if shouldPublish(status, lease: lease, leaderless: cluster.leader == nil) {
            do {
                try await store.publish(status, lease: lease)
                publishedMember = (status, lease)
            } catch {
                logger.warning("could not publish this node's status: \(error)")
            }
        }
        let role = Self.role(of: local, leader: cluster.leader, me: plan.me.name)
        metrics.master.record(role == .primary ? 1 : 0)
        if let offset = status.offset { metrics.offset.record(offset) }
        await publishRole(role, lease: lease)
    }

    /// A change of role, upstream or link goes out at once; an offset that merely moved goes out
    /// at most once per `ttl` while a master leads (nobody needs it then), and at once while
    /// the service has no leader (candidates compare offsets).
    private func shouldPublish(_ status: CacheMember, lease: LeaseID, leaderless: Bool) -> Bool {
        guard let published = publishedMember, published.lease == lease else { return true }
        var moved = status.withoutTime
        moved.offset = published.member.offset
        if moved != published.member.withoutTime { return true }
        if status.offset == published.member.offset { return false }
        return leaderless || Date().timeIntervalSince(published.member.updatedAt) >= plan.settings.ttl.seconds
    }

    /// What proxies route by: primary only while an unpaused master holding the leader key,
    /// replica only while linked to a master; nothing otherwise.
    static func role(of local: CacheHA.LocalServer, leader: String?, me: String) -> ServiceRoles.Role? {
        switch local {
        case .master(_, paused: false) where leader == me: .primary
        case .replica(_, _, linkUp: true): .replica
        default: nil
        }
    }

    private func publishRole(_ role: ServiceRoles.Role?, lease: LeaseID) async {
        if let published = publishedRole, published.role == role, published.lease == lease { return }
        do {
            try await roles.publish(role, node: plan.me.name, lease: lease)
            publishedRole = (role, lease)
        } catch {
            logger.warning("could not publish this node's role \(role?.rawValue ?? "none"): \(error)")
        }
    }

    // MARK: actions

    private func perform(_ action: CacheHA.Action) async throws {
        switch action {
        case .startReplica(let leader):
            following = leader
            try await server.start(replicaOf: leader.flatMap(plan.endpoint))
            paused = false
            pauseOnceUp = leader == nil
        case .startMaster:
            following = nil
            try await server.start(replicaOf: nil)
            paused = false
            pauseOnceUp = false
        case .acquireLeadership:
            guard let keeper else { return }
            if try await store.leader.acquire(node: plan.me.name, lease: keeper.lease.id) {
                logger.notice("took the leader key")
            }
        case .promote:
            try await promote()
        case .follow(let leader):
            try await follow(leader)
        case .fence(let why):
            try await fence(why)
        case .unfence:
            try await server.command(["CLIENT", "UNPAUSE"])
            paused = false
            logger.notice("writes resumed: this node holds the leader key")
        }
    }

    private func promote() async throws {
        let offset = lastReplication?.offset
        try await server.command(["REPLICAOF", "NO", "ONE"])
        try await server.command(["CLIENT", "UNPAUSE"])
        paused = false
        following = nil
        let since = leaderlessSince
        let duration = since.map { clock.now - $0.at } ?? .zero
        let previous = since?.previous
        let event: CacheEvent
        if let previous {
            event = CacheEvent(
                kind: .failover, from: previous, to: plan.me.name, cause: "the leader key of \(previous) expired", duration: duration, offset: offset)
        } else {
            event = CacheEvent(kind: .bootstrap, from: nil, to: plan.me.name, cause: "no master yet", duration: duration, offset: offset)
        }
        logger.notice("\(event)")
        if event.kind == .failover { metrics.failovers.increment() }
        leaderlessSince = nil
        lastLeader = plan.me.name
        try? await store.record(event)
        await fenceOldMaster(previous)
    }

    /// The proxies stop sending to the old master the moment its leader key goes; this tells
    /// its Redis too, for clients that reach it directly: best effort, a dead one cannot answer.
    private func fenceOldMaster(_ previous: String?) async {
        guard let previous, let old = plan.endpoint(previous), old.name != plan.me.name else { return }
        guard let client = try? await RedisClient.connect(host: old.host, port: old.port, password: server.password.secret, timeout: .milliseconds(300))
        else { return }
        if (try? await client.expectOK(["REPLICAOF", plan.me.host, String(plan.me.port)])) != nil {
            logger.notice("told the old master \(previous) to replicate from \(plan.me.name)")
        }
        await client.close()
    }

    private func follow(_ leader: String) async throws {
        guard let endpoint = plan.endpoint(leader) else { throw CacheError.configuration("\(leader) is not a node of cache service \(plan.service)") }
        let wasMaster = lastReplication?.role == .master
        let before = lastReplication
        try await server.command(["REPLICAOF", endpoint.host, String(endpoint.port)])
        try await server.command(["CLIENT", "UNPAUSE"])
        paused = false
        following = leader
        guard wasMaster, let before else { return }
        let diverged = await divergence(of: before, from: endpoint)
        let event = CacheEvent(kind: .rejoin, from: plan.me.name, to: leader, cause: "\(leader) holds the leader key", divergedBytes: diverged)
        logger.notice("\(event)")
        metrics.rejoins.increment()
        try? await store.record(event)
    }

    /// What this old master wrote past the point `leader` took over its history.
    private func divergence(of mine: ReplicationInfo, from leader: CacheNodePlan.Endpoint) async -> Int64? {
        guard let client = try? await RedisClient.connect(host: leader.host, port: leader.port, password: server.password.secret, timeout: .milliseconds(500))
        else { return nil }
        defer { Task { await client.close() } }
        guard let text = try? await client.send(["INFO", "replication"]).text, let theirs = ReplicationInfo(text) else { return nil }
        return mine.divergence(from: theirs)
    }

    private func fence(_ why: String) async throws {
        logger.critical("fencing: pausing writes: \(why)")
        writableMaster = false
        try await server.command(["CLIENT", "PAUSE", "3600000", "WRITE"])
        paused = true
    }

    // MARK: background watches

    /// Pauses writes on a master before its lease can expire, independently of the cycle.
    private func watchLease() async {
        while !Task.isCancelled {
            let deadline = (keeper?.validUntil ?? clock.now + plan.settings.loopWait) - plan.settings.fenceMargin
            if writableMaster, clock.now >= deadline {
                try? await fence("lease not renewed; it may expire at \(keeper?.validUntil.description ?? "?")")
            }
            let nextCheck = min(max(deadline, clock.now + .milliseconds(20)), clock.now + .milliseconds(100))
            guard (try? await clock.sleep(until: nextCheck)) != nil else { return }
        }
    }

    /// Wakes the cycle as soon as the leader key changes, and, while there is no leader, when a
    /// member publishes (a candidate waits for its rivals' final offsets).
    private func wakeOnLeaderChange() async {
        let leaderKey = store.leaderKey
        let membersPrefix = store.membersPrefix
        await PrefixFollower(coordinator: store.coordinator, prefix: store.prefix, clock: clock).run(
            onReading: { _ in },
            onEvent: { event in
                let key = event.keyValue.key
                if key == leaderKey || (key.hasPrefix(membersPrefix) && lastCluster?.leader == nil) { alarm.ring() }
            })
    }
}
