import Logging
import Metrics
import Synchronization
import ZonalCoordination
import ZonalCore

/// One pool with the work that keeps it current: active health checks, source-address
/// persistence shared with the other instances, and the roles of a PostgreSQL service's
/// nodes. A reload that adds a pool starts one; one that removes a pool stops it.
final class PoolRuntime: Sendable {
    let pool: BackendPool
    let checks: PoolHealthChecks
    private let sharing: AffinitySharing?
    private let routing: RoleRouting?
    private let work = Mutex<Task<Void, Never>?>(nil)

    /// `coordinator`, when given, shares persistence and reads database roles; `topology` and
    /// `service` name the keys.
    init(plan: PoolPlan, topology: String, service: String, coordinator: (any Coordinator)?, clock: any ZonalClock, logger: Logger) {
        let sharingBox = Mutex<AffinitySharing?>(nil)
        let pool = BackendPool(
            plan: plan, clock: clock,
            onZoneSwitch: { pool, change in
                Counter(label: "zonal_balancer_zone_switches_total", dimensions: [("pool", pool), ("to", change.to.rawValue)]).increment()
                logger.notice("zone switch", metadata: ["pool": "\(pool)", "from": "\(change.from)", "to": "\(change.to)", "cause": "\(change.cause)"])
            },
            onAffinity: { _, client, server in sharingBox.withLock { $0 }?.publish(client: client, server: server) }
        )
        self.pool = pool
        checks = PoolHealthChecks(pool: pool, logger: logger)
        var sharing: AffinitySharing?
        if let coordinator, case .sourceAddress(let timeout) = plan.persistence {
            sharing = AffinitySharing(
                coordinator: coordinator, prefix: "/zonal/\(topology)/balancer/\(service)/\(plan.name)/affinity/",
                pool: pool, timeout: timeout, clock: clock, logger: logger)
        }
        sharingBox.withLock { $0 = sharing }
        self.sharing = sharing
        if let database = plan.databaseRouting, let coordinator {
            routing = RoleRouting(
                pool: pool, directory: ServiceRoleDirectory(coordinator: coordinator, service: database.service), role: database.role, clock: clock,
                logger: logger)
        } else {
            routing = nil
        }
    }

    var name: String { pool.name }

    /// Starts the checks, the sharing and the role routing.
    func start() {
        checks.sync()
        let sharing = sharing
        let routing = routing
        work.withLock { work in
            guard work == nil, sharing != nil || routing != nil else { return }
            work = Task {
                await withDiscardingTaskGroup { group in
                    if let sharing { group.addTask { await sharing.run() } }
                    if let routing { group.addTask { await routing.run() } }
                }
            }
        }
    }

    func stop() {
        checks.stop()
        work.withLock { work in
            work?.cancel()
            work = nil
        }
    }
}
