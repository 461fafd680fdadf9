import Yams

/// Reading the `database` section of a service of kind `postgres`.
extension TopologyReader {
    mutating func readDatabase(_ node: Yams.Node?, subject: String) -> DatabaseSpec? {
        let service = String(subject.dropFirst("service ".count))
        let path = "services.\(service).database"
        guard let node else { return DatabaseSpec() }
        guard
            let fields = YAMLFields(
                node, subject: "`database` of \(subject)", problems: problems,
                allowedKeys: [
                    "edition", "synchronous_mode", "synchronous_standbys", "ttl", "loop_wait", "fence_margin", "maximum_lag_on_failover",
                    "data_directory", "bin_directory", "parameters", "nofailover", "backup",
                ])
        else { return nil }
        record(path, fields.line)
        let edition = fields.named(subject).choice("edition", DatabaseSpec.Edition.self) ?? .ha
        var failover = DatabaseSpec.defaults(for: edition)
        failover.synchronousMode = fields.named(subject).choice("synchronous_mode", DatabaseSpec.SynchronousMode.self) ?? failover.synchronousMode
        failover.synchronousStandbys = fields.int("synchronous_standbys", in: 1...16) ?? failover.synchronousStandbys
        failover.ttl = fields.duration("ttl") ?? failover.ttl
        failover.loopWait = fields.duration("loop_wait") ?? failover.loopWait
        failover.fenceMargin = fields.duration("fence_margin") ?? failover.fenceMargin
        failover.maximumLagOnFailover = fields.int("maximum_lag_on_failover", in: 0...Int.max).map(UInt64.init) ?? failover.maximumLagOnFailover
        for key in ["edition", "synchronous_mode", "synchronous_standbys", "ttl", "loop_wait", "fence_margin", "nofailover"] {
            record("\(path).\(key)", fields.line(of: key))
        }
        let parameters = fields.stringMap("parameters", what: "PostgreSQL setting")
        let noFailover = Set((fields.stringList("nofailover") ?? []).map(\.value))
        var spec = DatabaseSpec(
            edition: edition, failover: failover, dataDirectory: fields.string("data_directory"),
            binDirectory: fields.string("bin_directory"), parameters: parameters, noFailover: noFailover)
        if let backupNode = fields["backup"],
            let backupFields = YAMLFields(
                backupNode, subject: "`backup` of \(subject)", problems: problems,
                allowedKeys: ["directory", "interval", "keep", "keep_days"]),
            let directory = backupFields.string("directory", required: true)
        {
            var backup = DatabaseSpec.Backup(directory: directory)
            backup.interval = backupFields.duration("interval") ?? backup.interval
            backup.keep = backupFields.int("keep", in: 1...10_000) ?? backup.keep
            backup.keepDays = backupFields.int("keep_days", in: 0...36_500) ?? backup.keepDays
            spec.backup = backup
        }
        return spec
    }
}
