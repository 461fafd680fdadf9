import Foundation
import Logging
import Synchronization
import ZonalBackup
import ZonalCoordination
import ZonalCore

/// Cross-region replication of a store, run by whichever of its front ends holds the
/// replicator lease (`/zonal/elections/objects-<store>-replicator`): that one follows the rules
/// in the coordinator and those the topology declares, and runs a ``RuleReplicator`` for each; the others stand by and take over
/// within the lease's TTL when it goes. A rule added, changed or removed takes effect within a
/// second.
public final class BucketReplicator: Sendable {
    let plan: S3GatewayPlan
    let objects: ReplicatedObjects
    let root: StoreCredentials
    let rules: FollowedRecords<ReplicationRule>
    let coordinator: any Coordinator
    let clock: any ZonalClock
    let logger: Logger
    let pollInterval: Duration
    private let running = Mutex<[String: (rule: ReplicationRule, replicator: RuleReplicator, task: Task<Void, Never>)]>([:])
    private let leading = Atomic<Bool>(false)

    public init(
        plan: S3GatewayPlan, objects: ReplicatedObjects, root: StoreCredentials, coordinator: any Coordinator, pollInterval: Duration = .milliseconds(250),
        clock: any ZonalClock = SystemClock(), logger: Logger
    ) {
        self.plan = plan
        self.objects = objects
        self.root = root
        self.coordinator = coordinator
        self.clock = clock
        self.pollInterval = pollInterval
        var logger = logger
        logger[metadataKey: "role"] = "replicator"
        self.logger = logger
        rules = Self.rules(store: plan.store, coordinator: coordinator, clock: clock, logger: logger)
        for rule in plan.declaredRules {
            if let problem = rule.problem {
                logger.error("a replication rule of the topology is ignored", metadata: ["rule": "\(rule.name)", "problem": "\(problem)"])
            }
        }
    }

    /// The rules of `store` in the coordinator; one whose name or settings do not hold is ignored.
    static func rules(store: String, coordinator: any Coordinator, clock: any ZonalClock, logger: Logger) -> FollowedRecords<ReplicationRule> {
        FollowedRecords(prefix: "/zonal/objects/\(store)/replication/rules/", coordinator: coordinator, clock: clock, logger: logger) { name, rule in
            rule.name == name && rule.problem == nil
        }
    }

    /// What this front end reports: whether it replicates, and how each rule stands.
    public var status: ReplicationStatus {
        let rules = running.withLock { $0.values.map(\.replicator) }.map(\.status).sorted { $0.name < $1.name }
        return ReplicationStatus(node: plan.node, active: leading.load(ordering: .relaxed), rules: rules)
    }

    /// Campaigns for the lease and replicates while it holds it, until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.rules.run() }
            let election = LeaderElection(
                coordinator: coordinator, name: "/zonal/elections/objects-\(plan.store)-replicator", settings: .init(ttl: .seconds(3)), clock: clock,
                logger: logger)
            var failures = 0
            while !Task.isCancelled {
                do {
                    let leadership = try await election.campaign(value: plan.node)
                    failures = 0
                    logger.notice("this front end replicates the store's rules now")
                    leading.store(true, ordering: .relaxed)
                    // Waiting for the loss does not end on cancellation: a shutdown resigns, which
                    // ends the wait and hands the lease over at once.
                    await withTaskCancellationHandler {
                        await withDiscardingTaskGroup { lead in
                            lead.addTask { await self.supervise() }
                            _ = await leadership.waitUntilLost()
                            lead.cancelAll()
                        }
                    } onCancel: {
                        Task { await leadership.resign() }
                    }
                    await leadership.resign()
                } catch {
                    failures += 1
                    if !Task.isCancelled { logger.warning("cannot campaign for the replicator lease", metadata: ["error": "\(error)"]) }
                }
                leading.store(false, ordering: .relaxed)
                stopAll()
                guard (try? await clock.sleep(for: Backoff.coordinator.delay(afterFailures: max(1, failures)))) != nil else { break }
            }
            group.cancelAll()
        }
        stopAll()
    }

    /// Keeps one replicator running per rule, as the rules are now, until cancelled.
    private func supervise() async {
        while !Task.isCancelled {
            // A rule of the topology wins over one of the same name in the coordinator.
            let wanted = rules.snapshot().merging(plan.declaredRules.filter { $0.problem == nil }.map { ($0.name, $0) }) { $1 }
            running.withLock { running in
                for (name, current) in running where wanted[name] != current.rule {
                    current.task.cancel()
                    running[name] = nil
                    logger.notice("replication rule stopped", metadata: ["rule": "\(name)"])
                }
                for (name, rule) in wanted where running[name] == nil {
                    do throws(ObjectsError) {
                        let replicator = RuleReplicator(
                            rule: rule, target: try target(of: rule), objects: objects, coordinator: coordinator, store: plan.store,
                            pollInterval: pollInterval, clock: clock, logger: logger)
                        running[name] = (rule, replicator, Task { await replicator.run() })
                        logger.notice("replication rule started", metadata: ["rule": "\(name)", "to": "\(rule.destination)"])
                    } catch {
                        logger.error("replication rule cannot start", metadata: ["rule": "\(name)", "error": "\(error)"])
                    }
                }
            }
            guard (try? await clock.sleep(for: .seconds(1))) != nil else { return }
        }
    }

    private func stopAll() {
        let stopped = running.withLock { running in
            defer { running = [:] }
            return running.values.map(\.task)
        }
        stopped.forEach { $0.cancel() }
    }

    /// Where `rule` sends: a store of the topology with its own root key, or an endpoint with
    /// the key sealed in the rule.
    func target(of rule: ReplicationRule) throws(ObjectsError) -> ReplicationTarget {
        let destination = rule.destination
        if let name = destination.store {
            guard let peer = plan.peerStores.first(where: { $0.name == name }) else {
                throw .configuration("the topology has no object store \(name) with S3 front ends")
            }
            let credentials = try StoreCredentials.load(file: peer.credentialsFile)
            return ReplicationTarget(
                endpoints: peer.endpoints, bucket: destination.bucket,
                signer: S3Signer(credentials: .init(accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey), region: peer.region),
                keepsVersionIDs: true, timeout: plan.spec.nodeTimeout)
        }
        guard let endpoint = destination.endpoint, let region = destination.region, let accessKeyID = destination.accessKeyID,
            let sealed = destination.sealedSecret, let secret = Self.seal(root).open(sealed, id: Self.sealID(rule.name))
        else { throw .configuration("rule \(rule.name): the endpoint's secret does not open with this store's root key") }
        return ReplicationTarget(
            endpoints: [endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint], bucket: destination.bucket,
            signer: S3Signer(credentials: .init(accessKeyID: accessKeyID, secretAccessKey: secret), region: region), keepsVersionIDs: false,
            timeout: plan.spec.nodeTimeout)
    }

    /// What seals an endpoint's secret in a rule: the store's root secret, the rule's name bound in.
    public static func seal(_ root: StoreCredentials) -> AccessKeySeal {
        AccessKeySeal(rootSecret: root.secretAccessKey)
    }

    public static func sealID(_ rule: String) -> String {
        "replication/\(rule)"
    }
}
