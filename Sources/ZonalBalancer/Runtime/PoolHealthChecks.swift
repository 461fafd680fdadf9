import Logging
import Synchronization
import ZonalCore
import ZonalHealth

/// The active health checks of one pool: a ``HealthMonitor`` per server, its verdicts fed to
/// the pool. ``sync()`` follows the pool's configuration, so servers added or changed by a
/// reload or the admin API are checked and removed ones are not.
final class PoolHealthChecks: Sendable {
    private struct Check: Sendable {
        var target: String
        var task: Task<Void, Never>
    }

    private let pool: BackendPool
    private let logger: Logger
    private let checks = Mutex<[String: Check]>([:])

    init(pool: BackendPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Starts checks for new or changed servers and stops those of servers that left.
    func sync() {
        let plan = pool.plan
        let pool = self.pool
        let logger = self.logger
        checks.withLock { checks in
            var wanted: [String: (target: String, backend: Backend, spec: HealthCheckSpec)] = [:]
            if let spec = plan.healthCheck {
                for backend in plan.backends {
                    wanted[backend.id] = ("\(backend.host)|\(backend.port)|\(spec)", backend, spec)
                }
            }
            for (id, check) in checks where wanted[id]?.target != check.target {
                check.task.cancel()
                checks[id] = nil
            }
            for (id, want) in wanted where checks[id] == nil {
                let monitor = HealthMonitor(
                    name: "\(plan.name)/\(id)", spec: want.spec,
                    probe: want.spec.makeProbe(host: want.backend.host, port: want.backend.port), logger: logger)
                let task = Task {
                    await monitor.run { transition, _ in
                        pool.setHealth(id, BackendPool.Health(transition.to))
                    }
                }
                checks[id] = Check(target: want.target, task: task)
            }
        }
    }

    func stop() {
        checks.withLock { checks in
            checks.values.forEach { $0.task.cancel() }
            checks = [:]
        }
    }
}

extension BackendPool.Health {
    init(_ status: HealthStatus) {
        switch status {
        case .unknown: self = .unknown
        case .healthy: self = .healthy
        case .unhealthy: self = .unhealthy
        }
    }
}
