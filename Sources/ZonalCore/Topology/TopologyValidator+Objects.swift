/// Checks of `object-store` and `s3` services that need the whole topology.
extension Checker {
    mutating func objectStore(_ spec: ObjectStoreSpec, of service: Topology.Service) {
        let path = "services.\(service.name).objects"
        if service.adminPort == nil {
            report("services.\(service.name)", "service \(service.name) is of kind `object-store` and needs an `admin_port` for its nodes' health and metrics")
        }
        if spec.replicas > service.nodes.count {
            report("services.\(service.name)", "service \(service.name) keeps \(spec.replicas) replicas but has only \(service.nodes.count) nodes")
        }
        if spec.writeQuorum > spec.replicas {
            report(
                "\(path).write_quorum",
                "`write_quorum` (\(spec.writeQuorum)) of service \(service.name) is more than its \(spec.replicas) replicas; no write could succeed")
        }
        var names: Set<String> = []
        for rule in spec.replication {
            let rulePath = "\(path).replication.\(rule.name)"
            if !names.insert(rule.name).inserted { report(rulePath, "service \(service.name) has two replication rules named \(rule.name)") }
            if !ObjectReplicationSpec.isName(rule.name) {
                report(rulePath, "replication rule \(rule.name) of \(service.name): a rule name is 1 to 64 letters, digits, '-', '_' or '.'")
            }
            let target = topology.services.first { $0.name == rule.toStore }
            switch target?.kind {
            case .objectStore where rule.toStore != service.name: break
            case .objectStore:
                report("\(rulePath).to_store", "replication rule \(rule.name) of \(service.name) sends to its own store; name another object-store service")
            default:
                let stores = topology.services.filter { if case .objectStore = $0.kind { $0.name != service.name } else { false } }.map(\.name)
                report(
                    "\(rulePath).to_store",
                    "replication rule \(rule.name) of \(service.name) sends to \(rule.toStore), which is not an object-store service\(suggestion(rule.toStore, among: Set(stores)))"
                )
            }
        }
        let zones = Set(service.nodes.compactMap { topology.node(named: $0)?.zone })
        if zones.count < min(spec.replicas, service.nodes.count) {
            report(
                "services.\(service.name)",
                "service \(service.name) keeps \(spec.replicas) replicas in different zones but its nodes are in \(zones.count) zone(s); place it in \(spec.replicas) zones"
            )
        }
    }

    mutating func s3Gateway(_ spec: S3GatewaySpec, of service: Topology.Service) {
        let path = "services.\(service.name).s3.store"
        guard let backing = topology.services.first(where: { $0.name == spec.store }) else {
            let names = Set(topology.services.map(\.name))
            report(path, "service \(service.name) serves \(spec.store), which is not declared\(suggestion(spec.store, among: names))")
            return
        }
        guard case .objectStore = backing.kind else {
            report(path, "service \(service.name) serves \(spec.store), which is of kind `\(backing.kind.name)`, not `object-store`")
            return
        }
    }

    /// A `store:` reference names an object-store service that an `s3` service serves, and a
    /// valid bucket.
    mutating func storeReference(_ reference: ObjectStoreReference, at path: String, of subject: String) {
        let stores = Set(topology.services.filter { if case .objectStore = $0.kind { true } else { false } }.map(\.name))
        guard stores.contains(reference.store) else {
            report(path, "\(subject) names \(reference.store), which is not an object-store service\(suggestion(reference.store, among: stores))")
            return
        }
        if reference.frontEnd(in: topology, zone: nil) == nil {
            report(path, "\(subject) is object store \(reference.store), which no `s3` service serves; add one with `s3: { store: \(reference.store) }`")
        }
        if !ObjectStoreSpec.isBucketName(reference.bucket) {
            report(path, "\(reference.bucket) in \(subject) is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)")
        }
    }
}
