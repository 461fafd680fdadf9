import Yams

/// Reading the `dns` section of a service of kind `dns`.
extension TopologyReader {
    mutating func readDNS(_ node: Yams.Node?, subject: String) -> DNSSpec? {
        let service = String(subject.dropFirst("service ".count))
        let path = "services.\(service).dns"
        guard let node else {
            problems.report(line: nil, "\(subject) is of kind `dns` and needs a `dns` section with at least one zone")
            return nil
        }
        guard
            let fields = YAMLFields(
                node, subject: "`dns` of \(subject)", problems: problems, allowedKeys: ["zones", "records", "tcp_idle_timeout", "max_tcp_connections"])
        else { return nil }
        record(path, fields.line)
        let zones = (fields.sequence("zones", required: true) ?? []).compactMap { readZone($0, path: path, subject: subject) }
        let records = (fields.sequence("records") ?? []).compactMap { readRecord($0, path: path, subject: subject) }
        var spec = DNSSpec(zones: zones, records: records)
        spec.tcpIdleTimeout = fields.duration("tcp_idle_timeout") ?? spec.tcpIdleTimeout
        spec.maxTCPConnections = fields.int("max_tcp_connections", in: 1...1_000_000) ?? spec.maxTCPConnections
        return spec
    }

    private mutating func readZone(_ node: Yams.Node, path: String, subject: String) -> DNSSpec.ZoneSpec? {
        guard let unnamed = YAMLFields(node, subject: "a zone of \(subject)", problems: problems, allowedKeys: ["name", "file", "transfer_to", "notify"])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let fields = unnamed.named("zone \(name) of \(subject)")
        record("\(path).zones.\(name)", fields.line)
        return DNSSpec.ZoneSpec(
            name: name, file: fields.string("file"), transferTo: fields.stringList("transfer_to")?.map(\.value) ?? [],
            notify: fields.stringList("notify")?.map(\.value) ?? [])
    }

    private mutating func readRecord(_ node: Yams.Node, path: String, subject: String) -> DNSSpec.RecordSpec? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a record of \(subject)", problems: problems, allowedKeys: ["name", "ttl", "pools", "subnets", "when_all_down", "health"])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let recordSubject = "record \(name) of \(subject)"
        let fields = unnamed.named(recordSubject)
        let recordPath = "\(path).records.\(name)"
        record(recordPath, fields.line)
        let pools = (fields.sequence("pools", required: true) ?? []).compactMap { readDNSPool($0, path: recordPath, subject: recordSubject) }
        var spec = DNSSpec.RecordSpec(name: name, pools: pools)
        spec.ttl = fields.duration("ttl") ?? spec.ttl
        for entry in fields.sequence("subnets") ?? [] {
            guard
                let subnet = YAMLFields(entry, subject: "a subnet of \(recordSubject)", problems: problems, allowedKeys: ["prefix", "pool"]),
                let prefix = subnet.string("prefix", required: true), let pool = subnet.string("pool", required: true)
            else { continue }
            record("\(recordPath).subnets.\(prefix)", subnet.line)
            spec.subnets.append(DNSSpec.RecordSpec.SubnetRoute(prefix: prefix, pool: pool))
        }
        if let whenAllDown = fields["when_all_down"] {
            record("\(recordPath).when_all_down", whenAllDown.mark?.line)
            if case .sequence = whenAllDown {
                spec.whenAllDown = .fixed(fields.stringList("when_all_down")?.map(\.value) ?? [])
            } else {
                switch fields.string("when_all_down") {
                case "all": spec.whenAllDown = .all
                case "none": spec.whenAllDown = .none
                case let other?:
                    problems.report(whenAllDown, "`when_all_down` of \(recordSubject) is `\(other)`; use all, none, or a list of addresses")
                case nil: break
                }
            }
        }
        if let health = fields["health"] {
            spec.health = readHealth(health, subject: "`health` of \(recordSubject)", defaultProbe: .tcp(port: nil))
            record("\(recordPath).health", health.mark?.line)
        }
        return spec
    }

    private mutating func readDNSPool(_ node: Yams.Node, path: String, subject: String) -> DNSSpec.PoolSpec? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a pool of \(subject)", problems: problems, allowedKeys: ["name", "service", "region", "zone", "addresses"])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let poolSubject = "pool \(name) of \(subject)"
        let fields = unnamed.named(poolSubject)
        record("\(path).pools.\(name)", fields.line)
        var pool = DNSSpec.PoolSpec(name: name, service: fields.string("service"), region: fields.string("region"), zone: fields.string("zone"))
        for entry in fields.sequence("addresses") ?? [] {
            if case .scalar(let scalar) = entry {
                pool.addresses.append(.init(address: scalar.string))
                continue
            }
            guard let member = YAMLFields(entry, subject: "an address of \(poolSubject)", problems: problems, allowedKeys: ["address", "weight"]),
                let address = member.string("address", required: true)
            else { continue }
            if let weight = member.int("weight", in: 0...1000) {
                pool.addresses.append(.init(address: address, weight: weight))
                pool.weighted = true
            } else {
                pool.addresses.append(.init(address: address))
            }
        }
        if pool.service == nil, pool.addresses.isEmpty {
            problems.report(line: fields.line, "\(poolSubject) has no addresses: give `service` (with `region` or `zone`) or `addresses`")
        }
        if pool.service != nil, !pool.addresses.isEmpty {
            problems.report(line: fields.line, "\(poolSubject) gives both `service` and `addresses`; give one")
        }
        return pool
    }
}
