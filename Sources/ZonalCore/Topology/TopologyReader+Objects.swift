import Yams

/// Reading the `objects` section of a service of kind `object-store` and the `s3` section of
/// one of kind `s3`.
extension TopologyReader {
    mutating func readObjectStore(_ node: Yams.Node?, subject: String) -> ObjectStoreSpec? {
        let path = "services.\(subject.dropFirst("service ".count)).objects"
        guard let node else { return ObjectStoreSpec() }
        let keys = ["replicas", "write_quorum", "data_directory", "scrub_rate", "scrub_interval", "replication"]
        guard let fields = YAMLFields(node, subject: "`objects` of \(subject)", problems: problems, allowedKeys: keys) else { return nil }
        record(path, fields.line)
        for key in keys { record("\(path).\(key)", fields.line(of: key)) }
        var spec = ObjectStoreSpec()
        spec.replicas = fields.int("replicas", in: 1...7) ?? spec.replicas
        spec.writeQuorum = fields.int("write_quorum", in: 1...7) ?? spec.writeQuorum
        spec.dataDirectory = fields.string("data_directory")
        spec.scrubRate = fields.int("scrub_rate", in: 0...(4 << 30)) ?? spec.scrubRate
        spec.scrubInterval = fields.duration("scrub_interval") ?? spec.scrubInterval
        spec.replication = (fields.sequence("replication") ?? []).compactMap { readReplication($0, path: path, subject: subject) }
        return spec
    }

    private mutating func readReplication(_ node: Yams.Node, path: String, subject: String) -> ObjectReplicationSpec? {
        let keys = ["name", "bucket", "prefix", "deletes", "to_store", "to_bucket"]
        guard let unnamed = YAMLFields(node, subject: "a replication rule of \(subject)", problems: problems, allowedKeys: keys),
            let name = unnamed.string("name", required: true)
        else { return nil }
        let fields = unnamed.named("replication rule \(name) of \(subject)")
        let rulePath = "\(path).replication.\(name)"
        record(rulePath, fields.line)
        for key in keys { record("\(rulePath).\(key)", fields.line(of: key)) }
        guard let bucket = fields.string("bucket", required: true), let store = fields.string("to_store", required: true) else { return nil }
        return ObjectReplicationSpec(
            name: name, bucket: bucket, prefix: fields.string("prefix") ?? "", deletes: fields.bool("deletes") ?? false, toStore: store,
            toBucket: fields.string("to_bucket"))
    }

    mutating func readS3Gateway(_ node: Yams.Node?, subject: String) -> S3GatewaySpec? {
        let path = "services.\(subject.dropFirst("service ".count)).s3"
        guard let node else {
            problems.report(line: nil, "\(subject) is of kind `s3` and needs an `s3` section naming its `store` service")
            return nil
        }
        let keys = ["store", "region", "domains", "max_object_size", "node_timeout", "upload_expiry"]
        guard let fields = YAMLFields(node, subject: "`s3` of \(subject)", problems: problems, allowedKeys: keys),
            let store = fields.string("store", required: true)
        else { return nil }
        record(path, fields.line)
        for key in keys { record("\(path).\(key)", fields.line(of: key)) }
        var spec = S3GatewaySpec(store: store)
        spec.region = fields.string("region")
        spec.domains = (fields.stringList("domains") ?? []).map(\.value)
        spec.maxObjectSize = fields.int("max_object_size", in: 1...(5 << 30)).map(Int64.init) ?? spec.maxObjectSize
        spec.nodeTimeout = fields.duration("node_timeout") ?? spec.nodeTimeout
        spec.uploadExpiry = fields.duration("upload_expiry") ?? spec.uploadExpiry
        return spec
    }
}
