import Yams

/// Reading the `cache` section of a service of kind `redis` and the `proxy` section of one of
/// kind `redis-proxy`.
extension TopologyReader {
    mutating func readCache(_ node: Yams.Node?, subject: String) -> CacheSpec? {
        let path = "services.\(subject.dropFirst("service ".count)).cache"
        guard let node else { return CacheSpec() }
        let keys = [
            "ttl", "loop_wait", "fence_margin", "appendfsync", "min_replicas_to_write", "min_replicas_max_lag", "sentinel_port", "data_directory",
            "server", "parameters", "nofailover",
        ]
        guard let fields = YAMLFields(node, subject: "`cache` of \(subject)", problems: problems, allowedKeys: keys) else { return nil }
        record(path, fields.line)
        for key in keys { record("\(path).\(key)", fields.line(of: key)) }
        var failover = CacheSpec.Failover()
        failover.ttl = fields.duration("ttl") ?? failover.ttl
        failover.loopWait = fields.duration("loop_wait") ?? failover.loopWait
        failover.fenceMargin = fields.duration("fence_margin") ?? failover.fenceMargin
        return CacheSpec(
            failover: failover,
            appendFsync: fields.named(subject).choice("appendfsync", CacheSpec.AppendFsync.self) ?? .everysec,
            minReplicasToWrite: fields.int("min_replicas_to_write", in: 0...16) ?? 0,
            minReplicasMaxLag: fields.int("min_replicas_max_lag", in: 1...3600) ?? 10,
            sentinelPort: fields.int("sentinel_port", in: 1...65535),
            dataDirectory: fields.string("data_directory"),
            serverPath: fields.string("server"),
            parameters: fields.stringMap("parameters", what: "Redis setting"),
            noFailover: Set((fields.stringList("nofailover") ?? []).map(\.value)))
    }

    mutating func readCacheProxy(_ node: Yams.Node?, subject: String) -> CacheProxySpec? {
        let path = "services.\(subject.dropFirst("service ".count)).proxy"
        guard let node else {
            problems.report(line: nil, "\(subject) is of kind `redis-proxy` and needs a `proxy` section naming its `cache` service")
            return nil
        }
        let keys = ["cache", "wait_for_master", "max_clients", "max_bulk_length", "idle_timeout"]
        guard let fields = YAMLFields(node, subject: "`proxy` of \(subject)", problems: problems, allowedKeys: keys),
            let cache = fields.string("cache", required: true)
        else { return nil }
        record(path, fields.line)
        for key in keys { record("\(path).\(key)", fields.line(of: key)) }
        var spec = CacheProxySpec(cache: cache)
        spec.waitForMaster = fields.duration("wait_for_master") ?? spec.waitForMaster
        spec.maxClients = fields.int("max_clients", in: 1...1_000_000) ?? spec.maxClients
        spec.maxBulkLength = fields.int("max_bulk_length", in: 1...(1 << 32)) ?? spec.maxBulkLength
        spec.idleTimeout = fields.duration("idle_timeout") ?? spec.idleTimeout
        return spec
    }
}
