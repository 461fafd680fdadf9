import Logging
import ZonalCoordination
import ZonalCore
import ZonalObservability

/// Keeps a pool of a replicated service (PostgreSQL) in step with the roles its agents publish
/// (``ServiceRoleDirectory``): the write pool takes only the one primary, the read pool only
/// the replicas (the primary while there is none). It follows the role keys, so a new primary
/// takes connections as soon as its agent publishes it, with no polling delay.
struct RoleRouting: Sendable {
    let pool: BackendPool
    let directory: ServiceRoleDirectory
    let role: ServiceRoles.Role
    var clock: any ZonalClock = SystemClock()
    let logger: Logger

    /// One warning per damaged key per 10 s.
    private static let unreadableValues = RateLimitedLog()

    func run() async {
        // Nothing is known yet: no server may take a write that might reach a standby.
        for backend in pool.plan.backends { pool.setHealth(backend.id, .unhealthy) }
        var roles = ServiceRoles()
        await PrefixFollower(coordinator: directory.coordinator, prefix: directory.prefix, clock: clock).run(
            onReading: { reading in
                let (read, unreadable) = directory.roles(in: reading)
                for key in unreadable { warnUnreadable(key) }
                roles = read
                apply(roles)
            },
            onEvent: { event in
                if !directory.apply(event, to: &roles) { warnUnreadable(event.keyValue.key) }
                apply(roles)
            },
            onError: { error, pause in
                logger.warning(
                    "cannot read the roles of \(directory.service); keeping the last ones, again in \(pause.zonalDescription)",
                    metadata: ["error": "\(error)"])
            })
    }

    func apply(_ roles: ServiceRoles) {
        let eligible = roles.nodes(takingTrafficFor: role)
        for backend in pool.plan.backends {
            pool.setHealth(backend.id, eligible.contains(Self.node(of: backend.id)) ? .healthy : .unhealthy)
        }
    }

    private func warnUnreadable(_ key: String) {
        Self.unreadableValues.log(logger, .warning, "ignoring \(key): its value is neither primary nor replica", key: key)
    }

    /// Servers of a pool built from a service are named `service@node`.
    static func node(of backend: String) -> String {
        backend.split(separator: "@").last.map(String.init) ?? backend
    }
}
