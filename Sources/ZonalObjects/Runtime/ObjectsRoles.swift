import Foundation
import Logging
import ServiceLifecycle
import ZonalCoordination
import ZonalCore
import ZonalObservability

/// The services one process of an object store runs, put together once for the command line
/// and the tests: a storage node (data API and admin API), or an S3 front end (S3 and admin).
public enum ObjectsRoles {
    /// A storage node: its replica store opened (leftovers of a crash removed), its data API on
    /// the service port, its scrubber, and health, metrics and the scrubber's status on the
    /// admin port.
    public static func storageNode(_ plan: StorageNodePlan, limits: APILimits, tokens: AdminTokenSource, logger: Logger) async throws(ObjectsError)
        -> [any Service]
    {
        let store = try await ReplicaStore.load(directory: plan.dataDirectory, logger: logger)
        let removed = try await store.removeLeftovers()
        if removed > 0 { logger.notice("removed what an earlier run left unfinished", metadata: ["files": "\(removed)"]) }
        let scrubber = ReplicaScrubber(plan: plan, store: store, tokens: tokens, logger: logger)
        var services: [any Service] = [
            StorageNodeServer(store: store, tokens: tokens).application(host: plan.host, port: plan.port, limits: limits, logger: logger), scrubber,
        ]
        if let adminPort = plan.adminPort {
            let health = ObjectsAdminAPI(name: "zonal-objects-node", tokens: tokens, scrubber: scrubber) {
                _ = try await store.list(bucket: "", prefix: [], after: [], limit: 1)
                return ["service": plan.service, "node": plan.node, "directory": plan.dataDirectory]
            }
            services.append(health.application(host: plan.host, port: adminPort, limits: limits, logger: logger))
        }
        return services
    }

    /// An S3 front end with the store's root credentials (created on first use), and its part in
    /// cross-region replication; `/replication` on its admin port.
    public static func gateway(_ plan: S3GatewayPlan, coordinator: any Coordinator, limits: APILimits, tokens: AdminTokenSource, logger: Logger)
        throws(ObjectsError) -> [any Service]
    {
        let root = try StoreCredentials.loadOrCreate(file: plan.credentialsFile)
        let keys = AccessKeys(root: root, store: plan.store, coordinator: coordinator, logger: logger)
        let objects = ReplicatedObjects(plan: plan, tokens: tokens, logger: logger)
        let buckets = BucketDirectory(store: plan.store, coordinator: coordinator, logger: logger)
        let gateway = S3Gateway(objects: objects, buckets: buckets, plan: plan, keys: keys, logger: logger)
        let replicator = BucketReplicator(plan: plan, objects: objects, root: root, coordinator: coordinator, logger: logger)
        var services: [any Service] = [S3Server(gateway: gateway, plan: plan, replicator: replicator, limits: limits, logger: logger)]
        if let adminPort = plan.adminPort {
            let health = ObjectsAdminAPI(name: "zonal-s3", tokens: tokens, replicator: replicator) {
                let (answering, total) = try await objects.checkNodes()
                return ["service": plan.service, "store": plan.store, "region": plan.region, "storage_nodes": "\(answering)/\(total)"]
            }
            services.append(health.application(host: plan.host, port: adminPort, limits: limits, logger: logger))
        }
        return services
    }
}
