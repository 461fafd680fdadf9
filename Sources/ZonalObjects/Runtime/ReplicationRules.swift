import Foundation
import Logging
import ZonalCoordination
import ZonalCore

/// The replication rules of a store as `zonal objects replication` edits them in the
/// coordinator; the store's replicator follows every change.
public struct ReplicationRules: Sendable {
    let records: FollowedRecords<ReplicationRule>

    public init(store: String, coordinator: any Coordinator, logger: Logger) {
        records = BucketReplicator.rules(store: store, coordinator: coordinator, clock: SystemClock(), logger: logger)
    }

    /// Adds `rule`, or changes the rule of that name to it (keeping when it was made, and its
    /// progress unless what it selects or where it sends changed). Returns what was stored.
    public func set(_ rule: ReplicationRule) async throws(S3Error) -> ReplicationRule {
        if let problem = rule.problem { throw S3Error(.invalidArgument, problem) }
        while true {
            let stored = try await records.stored(rule.name)
            let next = stored.map { $0.record.updated(to: rule) } ?? rule
            if try await records.write(rule.name, next, ifAt: stored?.revision ?? 0) { return next }
        }
    }

    public func all() async throws(S3Error) -> [ReplicationRule] {
        try await records.all().sorted { $0.name < $1.name }
    }

    /// Removes the rule `name` and its cursor; false when there is none.
    public func remove(_ name: String) async throws(S3Error) -> Bool {
        guard try await records.stored(name) != nil else { return false }
        try await records.delete(name)
        _ = try? await records.coordinator.delete(records.prefix.replacingOccurrences(of: "/rules/", with: "/cursors/") + name)
        return true
    }
}
