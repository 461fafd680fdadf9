import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals
import ZonalCoordination
import ZonalCore

/// One running balancer instance: its pools, listeners, health checks, persistence sharing and
/// admin operations. A reload or an admin change reconfigures pools in place, so established
/// connections and in-flight requests are untouched; a reload also adds and removes pools and
/// listeners, and replaces a listener whose settings changed (its connections drain).
public final class Balancer: Sendable {
    private let plan: Mutex<BalancerPlan>
    private let runtimes: Mutex<[String: PoolRuntime]>
    /// Bumped for a pool made anew by a reload, so that its listeners are replaced too.
    private let poolGenerations = Mutex<[String: Int]>([:])
    /// Certificates of the HTTPS listeners, by listener name.
    private let certificates: Mutex<[String: TLSContextSource]>
    private let listeners: ListenerSet
    private let coordinator: (any Coordinator)?
    private let reloadPlan: @Sendable () throws -> BalancerPlan
    private let logger: Logger
    /// Told each listener's bound address, as it binds.
    private let onListening = Mutex<@Sendable (BalancerPlan.Listener, SocketAddress) -> Void>({ _, _ in })
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
        self.certificates = Mutex(certificates)
        self.plan = Mutex(plan)
        self.coordinator = coordinator
        self.reloadPlan = reloadPlan
        self.logger = logger
        self.clock = clock
        listeners = ListenerSet(clock: clock, logger: logger)
        var runtimes: [String: PoolRuntime] = [:]
        for poolPlan in plan.pools {
            runtimes[poolPlan.name] = PoolRuntime(
                plan: poolPlan, topology: plan.topology, service: plan.service, coordinator: coordinator, clock: clock, logger: logger)
        }
        self.runtimes = Mutex(runtimes)
    }

    public var currentPlan: BalancerPlan { plan.withLock { $0 } }

    /// The pools by name.
    public var pools: [String: BackendPool] { runtimes.withLock { $0.mapValues(\.pool) } }

    /// The listeners, then the upkeep (checks, sharing, SIGHUP). `onListening` is told each
    /// listener's bound address, at start and when a reload binds one.
    public func services(onListening: @escaping @Sendable (BalancerPlan.Listener, SocketAddress) -> Void = { _, _ in }) -> [any Service] {
        self.onListening.withLock { $0 = onListening }
        return [Listeners(balancer: self), Upkeep(balancer: self)]
    }

    public func snapshots() -> [PoolSnapshot] {
        pools.values.map { $0.snapshot() }.sorted { $0.name < $1.name }
    }

    /// Reads the topology again and applies it: pools are reconfigured in place, added or
    /// removed; listeners are added, replaced when their settings changed, or removed. What
    /// could not be applied is reported and the rest goes ahead.
    @discardableResult
    public func reload() async throws -> ReloadReport {
        let next = try reloadPlan()
        var report = ReloadReport()
        refreshCertificates(&report)
        applyPools(of: next, &report)
        plan.withLock { $0 = next }
        let outcome = await applyListeners(of: next)
        report.reconfigured +=
            outcome.started.map { "new listener \($0)" } + outcome.replaced.map { "listener \($0)" }
            + outcome.removed.map { "removed listener \($0)" }
        report.notApplied += outcome.failed.sorted { $0.key < $1.key }.map { "listener \($0.key): \($0.value)" }
        logger.notice("reloaded", metadata: ["reconfigured": "\(report.reconfigured)", "not_applied": "\(report.notApplied)"])
        return report
    }

    /// Reconfigures pools that stay, makes those that are new, and stops those no longer
    /// named. A pool whose persistence sharing or database routing changed is made anew.
    private func applyPools(of next: BalancerPlan, _ report: inout ReloadReport) {
        var started: [PoolRuntime] = []
        var stopped: [PoolRuntime] = []
        runtimes.withLock { runtimes in
            for poolPlan in next.pools {
                if let runtime = runtimes[poolPlan.name], !Self.needsNewRuntime(runtime.pool.plan, poolPlan) {
                    guard runtime.pool.plan != poolPlan else { continue }
                    runtime.pool.reconfigure(poolPlan)
                    runtime.checks.sync()
                    report.reconfigured.append(poolPlan.name)
                    continue
                }
                let old = runtimes[poolPlan.name]
                if let old { stopped.append(old) }
                let runtime = PoolRuntime(
                    plan: poolPlan, topology: next.topology, service: next.service, coordinator: coordinator, clock: clock, logger: logger)
                runtimes[poolPlan.name] = runtime
                started.append(runtime)
                report.reconfigured.append(old == nil ? "new pool \(poolPlan.name)" : "pool \(poolPlan.name) made anew")
            }
            let kept = Set(next.pools.map(\.name))
            for (name, runtime) in runtimes where !kept.contains(name) {
                stopped.append(runtime)
                runtimes[name] = nil
                report.reconfigured.append("removed pool \(name)")
            }
        }
        poolGenerations.withLock { generations in
            for runtime in started { generations[runtime.name, default: 0] += 1 }
        }
        stopped.forEach { $0.stop() }
        started.forEach { $0.start() }
    }

    /// Sharing and role routing are set up when a pool is made.
    private static func needsNewRuntime(_ old: PoolPlan, _ new: PoolPlan) -> Bool {
        old.sharesPersistence != new.sharesPersistence || old.databaseRouting != new.databaseRouting
    }

    /// Brings the running listeners in line with `next`; `starting` binds them the first time.
    private func applyListeners(of next: BalancerPlan, starting: Bool = false) async -> ListenerSet.Outcome {
        let generations = poolGenerations.withLock { $0 }
        let wanted = next.listeners.map {
            ListenerSet.Configuration(listener: $0, http: next.http, connections: next.connections, poolGeneration: generations[$0.pool, default: 0])
        }
        let make = { configuration in self.makeListener(configuration) }
        return starting ? await listeners.start(wanted, make: make) : await listeners.apply(wanted, make: make)
    }

    /// The listener for `configuration`, with its pool and (for HTTPS) its certificate.
    private func makeListener(_ configuration: ListenerSet.Configuration) -> Result<any BalancerListener, any Error> {
        let listener = configuration.listener
        guard let pool = pools[listener.pool] else { return .failure(BalancerPlanError("no pool named \(listener.pool)")) }
        let onListening = onListening.withLock { $0 }
        let onBound: @Sendable (SocketAddress) -> Void = { onListening(listener, $0) }
        switch listener.mode {
        case .http, .https:
            let source: TLSContextSource?
            do { source = try certificate(for: listener) } catch { return .failure(error) }
            return .success(
                HTTPProxy(
                    name: listener.name, host: listener.host, port: listener.port, pool: pool, settings: configuration.http,
                    maxConnections: configuration.connections.maxConnections, http2: listener.http2, tls: source, logger: logger, onBound: onBound))
        case .tcp:
            return .success(
                TCPProxy(
                    name: listener.name, host: listener.host, port: listener.port, pool: pool, limits: configuration.connections, logger: logger,
                    onBound: onBound))
        }
    }

    /// The certificate source of an HTTPS listener, loaded when the listener is new or its
    /// files changed.
    private func certificate(for listener: BalancerPlan.Listener) throws(TLSLoadError) -> TLSContextSource? {
        guard let files = listener.tls else { return nil }
        if let known = certificates.withLock({ $0[listener.name] }), known.files == files { return known }
        let source = try TLSContextSource(files: files)
        certificates.withLock { $0[listener.name] = source }
        return source
    }

    /// Serves renewed certificates; a renewal that does not load is reported and the old one stays.
    private func refreshCertificates(_ report: inout ReloadReport) {
        for (listener, source) in certificates.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
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
        guard let runtime = runtimes.withLock({ $0[name] }) else {
            throw .notFound("no pool named \(name); pools: \(pools.keys.sorted().joined(separator: ", "))")
        }
        var poolPlan = runtime.pool.plan
        try edit(&poolPlan)
        runtime.pool.reconfigure(poolPlan)
        runtime.checks.sync()
        logger.notice("pool changed by the admin API", metadata: ["pool": "\(name)"])
    }

    /// The listeners of the plan, bound at start (a port that cannot be had stops the
    /// balancer with the reason); at graceful shutdown they stop accepting and established
    /// connections are left to finish.
    struct Listeners: Service {
        let balancer: Balancer

        func run() async throws {
            let outcome = await balancer.applyListeners(of: balancer.currentPlan, starting: true)
            if let (name, reason) = outcome.failed.sorted(by: { $0.key < $1.key }).first {
                await balancer.listeners.closeAll()
                throw BalancerPlanError("listener \(name): \(reason)")
            }
            try? await gracefulShutdown()
            await balancer.listeners.closeAll()
        }
    }

    /// Health checks, persistence sharing, failback timing and SIGHUP reloads, for as long as
    /// the balancer runs.
    struct Upkeep: Service {
        let balancer: Balancer

        func run() async throws {
            let runtimes = { balancer.runtimes.withLock { Array($0.values) } }
            runtimes().forEach { $0.start() }
            defer { runtimes().forEach { $0.stop() } }
            await withDiscardingTaskGroup { group in
                group.addTask { await reloadOnHangUp() }
                group.addTask { await tickZones() }
                group.addTask { await watchCertificates() }
                try? await gracefulShutdown()
                group.cancelAll()
            }
        }

        private func reloadOnHangUp() async {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do { try await balancer.reload() } catch {
                    balancer.logger.error("reload failed; the running configuration stays", metadata: ["error": "\(error)"])
                }
            }
        }

        /// Picks up renewed certificate files within a few seconds, without a reload.
        private func watchCertificates() async {
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
