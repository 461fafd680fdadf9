import Logging
import ZonalCore

extension DatabaseNodePlan {
    /// The plan of `node`, with its data where PostgreSQL's own account can reach it: a state
    /// directory under a private home directory is closed to that account, so unless the
    /// topology names a data directory the data goes under `/var/lib/zonal/<topology>`; the
    /// password file stays where the agent (which reaches it) keeps it.
    public static func reachable(topology: Topology, service: String, node: String, stateDirectory: String, logger: Logger) throws -> DatabaseNodePlan {
        let plan = try DatabaseNodePlan(topology: topology, service: service, node: node, stateDirectory: stateDirectory)
        guard case .postgres(let spec) = topology.services.first(where: { $0.name == service })?.kind, spec.dataDirectory == nil,
            !PostgresController.serverAccountCanReach(plan.dataDirectory)
        else { return plan }
        var fallback = try DatabaseNodePlan(topology: topology, service: service, node: node, stateDirectory: "/var/lib/zonal/\(topology.name)")
        logger.notice("the postgres user cannot reach \(plan.dataDirectory); keeping the data in \(fallback.dataDirectory) instead")
        fallback.passwordFile = plan.passwordFile
        return fallback
    }
}
