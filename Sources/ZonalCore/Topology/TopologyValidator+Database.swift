/// Checks of a `postgres` service that need the whole topology.
extension Checker {
    mutating func database(_ spec: DatabaseSpec, of service: Topology.Service) {
        let path = "services.\(service.name)"
        if service.adminPort == nil {
            report(path, "service \(service.name) is of kind `postgres` and needs an `admin_port` for its agents' health and status API")
        }
        let count = service.nodes.count
        if spec.edition == .basic, count != 1 {
            report("\(path).database.edition", "edition `basic` of service \(service.name) runs on exactly one node; it is placed on \(count)")
        } else if count < spec.minimumNodes {
            report(
                "\(path).database.edition",
                "edition `\(spec.edition.rawValue)` of service \(service.name) needs at least \(spec.minimumNodes) nodes; it is placed on \(count)")
        }
        if spec.failover.synchronousMode != .off, spec.failover.synchronousStandbys > count - 1 {
            report(
                "\(path).database.synchronous_standbys",
                "service \(service.name) waits for \(spec.failover.synchronousStandbys) synchronous standbys but has only \(count - 1) nodes besides the primary"
            )
        }
        if spec.failover.loopWait >= spec.failover.ttl {
            report(
                "\(path).database.loop_wait",
                "`loop_wait` (\(spec.failover.loopWait.zonalDescription)) of service \(service.name) must be shorter than `ttl` (\(spec.failover.ttl.zonalDescription)), or a healthy primary loses its lease"
            )
        }
        if spec.failover.fenceMargin * 2 > spec.failover.ttl {
            report(
                "\(path).database.fence_margin",
                "`fence_margin` (\(spec.failover.fenceMargin.zonalDescription)) of service \(service.name) must be at most half the `ttl`")
        }
        for node in spec.noFailover.sorted() where !service.nodes.contains(node) {
            report("\(path).database.nofailover", "`nofailover` of service \(service.name) names \(node), which carries no instance of it")
        }
        if spec.noFailover.count >= count, count > 1 {
            report("\(path).database.nofailover", "every node of service \(service.name) is marked `nofailover`; no node could become primary")
        }
        if let backup = spec.backup { backupTarget(backup, of: service) }
    }

    /// A `store:` target names an object store of this topology that has a front end, and a
    /// valid bucket; an `s3:` target an http or https endpoint.
    private mutating func backupTarget(_ backup: DatabaseSpec.Backup, of service: Topology.Service) {
        let path = "services.\(service.name).database.backup.target"
        switch backup.resolvedTarget(service: service.name) {
        case nil:
            report(path, "the backup target \(backup.target) of service \(service.name) needs a store and a bucket: store:NAME/BUCKET[/PREFIX]")
        case .directory: break
        case .s3(let text):
            if !text.hasPrefix("s3:http://") && !text.hasPrefix("s3:https://") {
                report(
                    path,
                    "the backup target \(backup.target) of service \(service.name) is not an S3 location; write s3:http://HOST:PORT/BUCKET/PREFIX (or https)")
            }
        case .store(let name, let bucket, _):
            let stores = Set(topology.services.filter { if case .objectStore = $0.kind { true } else { false } }.map(\.name))
            guard stores.contains(name) else {
                report(
                    path, "the backup target of service \(service.name) names \(name), which is not an object-store service\(suggestion(name, among: stores))")
                return
            }
            let served = topology.services.contains { if case .s3(let gateway) = $0.kind { gateway.store == name } else { false } }
            if !served {
                report(
                    path,
                    "the backup target of service \(service.name) is object store \(name), which no `s3` service serves; add one with `s3: { store: \(name) }`")
            }
            if !ObjectStoreSpec.isBucketName(bucket) {
                report(
                    path,
                    "\(bucket) in the backup target of service \(service.name) is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
                )
            }
        }
        if backup.credentialsFile != nil, case .store = backup.resolvedTarget(service: service.name) {
            report("\(path)", "service \(service.name) backs up into a store of this topology, which brings its own credentials; remove `credentials_file`")
        }
    }
}
