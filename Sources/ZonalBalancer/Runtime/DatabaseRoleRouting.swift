import Logging
import ZonalCoordination
import ZonalCore
import ZonalDatabase

/// Keeps a PostgreSQL pool's servers in step with the roles the database agents publish: the
/// write pool takes only the node that runs as primary and holds the leader key, the read pool
/// only streaming standbys (the primary when none streams). It watches the cluster's keys, so a
/// new primary takes connections as soon as its agent publishes it, with no polling delay.
struct DatabaseRoleRouting: Sendable {
    let pool: BackendPool
    let store: ClusterStore
    let role: DatabaseSpec.Role
    let logger: Logger

    func run() async {
        // Nothing is known yet: no server may take a write that might reach a standby.
        for backend in pool.configuration.backends { pool.setHealth(backend.id, .unhealthy) }
        while !Task.isCancelled {
            do {
                let reading = try await store.read()
                apply(reading.view)
                for try await _ in store.coordinator.resumingWatch(prefix: store.prefix, fromRevision: reading.revision + 1) {
                    apply(try await store.read().view)
                }
            } catch {
                logger.warning("cannot read the roles of database \(store.prefix); keeping the last ones", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    func apply(_ view: DatabaseHA.ClusterView) {
        let eligible = Self.servers(for: role, in: view)
        for backend in pool.configuration.backends {
            pool.setHealth(backend.id, eligible.contains(Self.node(of: backend.id)) ? .healthy : .unhealthy)
        }
    }

    /// The nodes that take connections for `role`.
    static func servers(for role: DatabaseSpec.Role, in view: DatabaseHA.ClusterView) -> Set<String> {
        let primary = view.members.first { $0.name == view.leader && $0.role == .primary }.map(\.name)
        switch role {
        case .primary:
            return Set([primary].compactMap { $0 })
        case .replica:
            let replicas = view.members.filter { $0.role == .standby && $0.upstream != nil }.map(\.name)
            return Set(replicas.isEmpty ? [primary].compactMap { $0 } : replicas)
        }
    }

    /// Servers of a pool built from a service are named `service@node`.
    static func node(of backend: String) -> String {
        backend.split(separator: "@").last.map(String.init) ?? backend
    }
}
