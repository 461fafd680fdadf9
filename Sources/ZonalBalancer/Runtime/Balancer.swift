import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals
import ZonalCoordination
import ZonalCore

/// One running balancer instance: its pools, listeners, health checks, persistence sharing and
/// admin operations. Pools are made once; a reload or an admin change reconfigures them in
/// place, so established connections and in-flight requests are untouched.
public final class Balancer: Sendable {
    public let pools: [String: BackendPool]
    private let plan: Mutex<BalancerPlan>
    private let checks: [String: PoolHealthChecks]
    private let sharing: [AffinitySharing]
    private let roleRouting: [RoleRouting]
    /// Certificates of the HTTPS listeners, by listener name.
    private let certificates: [String: TLSContextSource]
    private let reloadPlan: @Sendable () throws -> BalancerPlan
    private let logger: Logger
    /// The time source of the pools and of every periodic task.
    let clock: any ZonalClock

    /// `coordinator`, when given, shares source-address persistence between instances and tells
    /// PostgreSQL pools which servers are primary and replicas;
    /// `reloadPlan` reads the topology again for a reload. Throws when an HTTPS listener's
    /// certificate or key cannot be loaded.
    public init(
        plan: BalancerPlan, coordinator: (any Coordinator)?, clock: any ZonalClock = SystemClock(), logger: Logger,
        reloadPlan: @escaping @Sendable () throws -> BalancerPlan
    ) throws(TLSLoadError) {
        var certificates: [String: TLSContextSource] = [:]
        for listener in plan.listeners {
            if let files = listener.tls { certificates[listener.name] = try TLSContextSource(files: files) }
        }
        self.certificates = certificates
        self.plan = Mutex(plan)
        self.reloadPlan = reloadPlan
        self.logger = logger
        self.clock = clock
        let shares = Mutex<[String: AffinitySharing]>([:])
        var pools: [String: BackendPool] = [:]
        for poolPlan in plan.pools {
            pools[poolPlan.name] = BackendPool(
                plan: poolPlan,
                clock: clock,
                onZoneSwitch: { pool, change in
                    Counter(label: "zonal_balancer_zone_switches_total", dimensions: [("pool", pool), ("to", change.to.rawValue)]).increment()
                    logger.notice("zone switch", metadata: ["pool": "\(pool)", "from": "\(change.from)", "to": "\(change.to)", "cause": "\(change.cause)"])
                },
                onAffinity: { pool, client, server in
                    shares.withLock { $0[pool] }?.publish(client: client, server: server)
                }
            )
        }
        self.pools = pools
        checks = pools.mapValues { PoolHealthChecks(pool: $0, logger: logger) }
        var sharing: [AffinitySharing] = []
        if let coordinator {
            for poolPlan in plan.pools {
                guard case .sourceAddress(let timeout) = poolPlan.persistence, let pool = pools[poolPlan.name] else { continue }
                let share = AffinitySharing(
                    coordinator: coordinator, prefix: "/zonal/\(plan.topology)/balancer/\(plan.service)/\(poolPlan.name)/affinity/",
                    pool: pool, timeout: timeout, clock: clock, logger: logger)
                sharing.append(share)
            }
        }
        shares.withLock { table in for share in sharing { table[share.pool.name] = share } }
        self.sharing = sharing
        roleRouting = plan.pools.compactMap { poolPlan -> RoleRouting? in
            guard let routing = poolPlan.databaseRouting, let coordinator, let pool = pools[poolPlan.name] else { return nil }
            return RoleRouting(
                pool: pool, directory: ServiceRoleDirectory(coordinator: coordinator, service: routing.service),
                role: routing.role, clock: clock, logger: logger)
        }
    }

    public var currentPlan: BalancerPlan { plan.withLock { $0 } }

    /// The listeners as services, then the upkeep (checks, sharing, SIGHUP). `onListening` is
    /// told each listener's bound address.
    public func services(onListening: @escaping @Sendable (BalancerPlan.Listener, SocketAddress) -> Void = { _, _ in }) -> [any Service] {
        var services: [any Service] = []
        let plan = currentPlan
        for listener in plan.listeners {
            guard let pool = pools[listener.pool] else { continue }
            switch listener.mode {
            case .http, .https:
                services.append(
                    HTTPProxy(
                        name: listener.name, host: listener.host, port: listener.port, pool: pool, settings: plan.http,
                        maxConnections: plan.connections.maxConnections, http2: listener.http2, tls: certificates[listener.name], logger: logger,
                        onBound: { onListening(listener, $0) }))
            case .tcp:
                services.append(
                    TCPProxy(
                        name: listener.name, host: listener.host, port: listener.port, pool: pool, limits: plan.connections, logger: logger,
                        onBound: { onListening(listener, $0) }))
            }
        }
        services.append(Upkeep(balancer: self))
        return services
    }

    public func snapshots() -> [PoolSnapshot] {
        pools.values.map { $0.snapshot() }.sorted { $0.name < $1.name }
    }

    /// Reads the topology again and applies pool changes. Listener changes need a restart and
    /// are reported, not applied.
    @discardableResult
    public func reload() throws -> ReloadReport {
        let next = try reloadPlan()
        var report = ReloadReport()
        refreshCertificates(&report)
        let current = currentPlan
        if next.listeners != current.listeners {
            report.notApplied.append("listener changes take effect at the next restart")
        }
        for poolPlan in next.pools {
            guard let pool = pools[poolPlan.name] else {
                report.notApplied.append("new pool \(poolPlan.name) takes effect at the next restart")
                continue
            }
            if pool.plan != poolPlan {
                pool.reconfigure(poolPlan)
                checks[poolPlan.name]?.sync()
                report.reconfigured.append(poolPlan.name)
            }
        }
        plan.withLock { $0 = next }
        logger.notice("reloaded", metadata: ["reconfigured": "\(report.reconfigured)", "not_applied": "\(report.notApplied)"])
        return report
    }

    /// Serves renewed certificates; a renewal that does not load is reported and the old one stays.
    private func refreshCertificates(_ report: inout ReloadReport) {
        for (listener, source) in certificates.sorted(by: { $0.key < $1.key }) {
            do {
                if try source.refresh() {
                    report.reconfigured.append("certificate of \(listener)")
                    logger.notice("serving a renewed certificate", metadata: ["listener": "\(listener)", "file": "\(source.files.certificate)"])
                }
            } catch {
                report.notApplied.append("certificate of \(listener): \(error.description)")
                logger.error("a renewed certificate does not load; the old one stays", metadata: ["listener": "\(listener)", "error": "\(error)"])
            }
        }
    }

    /// Sets a server's weight; 0 drains it. Lasts until the next reload.
    public func setWeight(pool name: String, server: String, weight: Int) throws(BalancerAdminError) {
        guard (0...1000).contains(weight) else { throw .invalid("weight must be between 0 and 1000, got \(weight)") }
        try change(pool: name) { poolPlan throws(BalancerAdminError) in
            guard let index = poolPlan.backends.firstIndex(where: { $0.id == server }) else {
                throw .notFound("pool \(name) has no server \(server)")
            }
            poolPlan.backends[index].weight = weight
        }
    }

    /// Adds a server to a pool. Lasts until the next reload.
    public func addServer(pool name: String, _ backend: Backend) throws(BalancerAdminError) {
        guard IPAddressText.isValid(backend.host) else { throw .invalid("address \(backend.host) is not an IPv4 or IPv6 address") }
        guard (1...65535).contains(backend.port) else { throw .invalid("port must be between 1 and 65535, got \(backend.port)") }
        try change(pool: name) { poolPlan throws(BalancerAdminError) in
            guard !poolPlan.backends.contains(where: { $0.id == backend.id }) else {
                throw .conflict("pool \(name) already has a server \(backend.id)")
            }
            poolPlan.backends.append(backend)
        }
    }

    /// Removes a server from a pool; its in-flight requests finish. Lasts until the next reload.
    public func removeServer(pool name: String, server: String) throws(BalancerAdminError) {
        try change(pool: name) { poolPlan throws(BalancerAdminError) in
            guard poolPlan.backends.contains(where: { $0.id == server }) else { throw .notFound("pool \(name) has no server \(server)") }
            poolPlan.backends.removeAll { $0.id == server }
        }
    }

    private func change(pool name: String, _ edit: (inout PoolPlan) throws(BalancerAdminError) -> Void) throws(BalancerAdminError) {
        guard let pool = pools[name] else { throw .notFound("no pool named \(name); pools: \(pools.keys.sorted().joined(separator: ", "))") }
        var poolPlan = pool.plan
        try edit(&poolPlan)
        pool.reconfigure(poolPlan)
        checks[name]?.sync()
        logger.notice("pool changed by the admin API", metadata: ["pool": "\(name)"])
    }

    /// Health checks, persistence sharing, failback timing and SIGHUP reloads, for as long as
    /// the balancer runs.
    struct Upkeep: Service {
        let balancer: Balancer

        func run() async throws {
            balancer.checks.values.forEach { $0.sync() }
            defer { balancer.checks.values.forEach { $0.stop() } }
            await withDiscardingTaskGroup { group in
                for share in balancer.sharing { group.addTask { await share.run() } }
                for routing in balancer.roleRouting { group.addTask { await routing.run() } }
                group.addTask { await reloadOnHangUp() }
                group.addTask { await tickZones() }
                group.addTask { await watchCertificates() }
                try? await gracefulShutdown()
                group.cancelAll()
            }
        }

        private func reloadOnHangUp() async {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do { try balancer.reload() } catch {
                    balancer.logger.error("reload failed; the running configuration stays", metadata: ["error": "\(error)"])
                }
            }
        }

        /// Picks up renewed certificate files within a few seconds, without a reload.
        private func watchCertificates() async {
            guard !balancer.certificates.isEmpty else { return }
            while !Task.isCancelled {
                guard (try? await balancer.clock.sleep(for: .seconds(5))) != nil else { return }
                var report = ReloadReport()
                balancer.refreshCertificates(&report)
            }
        }

        /// Lets a pending failback happen on time even when no request arrives to trigger it.
        private func tickZones() async {
            while !Task.isCancelled {
                for pool in balancer.pools.values { _ = pool.servingZone }
                guard (try? await balancer.clock.sleep(for: .milliseconds(250))) != nil else { return }
            }
        }
    }
}

/// What a reload did.
public struct ReloadReport: Sendable, Codable, Hashable {
    public var reconfigured: [String] = []
    public var notApplied: [String] = []
}

/// Why an admin operation was refused.
public enum BalancerAdminError: Error, CustomStringConvertible {
    case notFound(String)
    case invalid(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let reason), .invalid(let reason), .conflict(let reason): reason
        }
    }
}
