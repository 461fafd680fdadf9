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

    /// An `s3:` target names an http or https endpoint; a `store:` target what
    /// ``storeReference(_:at:of:)`` checks.
    private mutating func backupTarget(_ backup: DatabaseSpec.Backup, of service: Topology.Service) {
        let path = "services.\(service.name).database.backup.target"
        let subject = "the backup target of service \(service.name)"
        let target: DatabaseSpec.Backup.Target
        do { target = try backup.resolvedTarget(service: service.name) } catch {
            report(path, "\(subject): \(error)")
            return
        }
        switch target {
        case .directory: break
        case .s3(let text):
            if !text.hasPrefix("s3:http://") && !text.hasPrefix("s3:https://") {
                report(path, "\(subject), \(backup.target), is not an S3 location; write s3:http://HOST:PORT/BUCKET/PREFIX (or https)")
            }
        case .store(let reference):
            storeReference(reference, at: path, of: subject)
            if backup.credentialsFile != nil {
                report(path, "service \(service.name) backs up into a store of this topology, which brings its own credentials; remove `credentials_file`")
            }
        }
    }
}
