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
                allowedKeys: ["target", "directory", "credentials_file", "interval", "keep", "keep_days"]),
            let target = backupTarget(backupFields, subject: subject)
        {
            var backup = DatabaseSpec.Backup(target: target)
            backup.credentialsFile = backupFields.string("credentials_file")
            record("\(path).backup.target", backupFields.line(of: backupFields["target"] == nil ? "directory" : "target"))
            backup.interval = backupFields.duration("interval") ?? backup.interval
            backup.keep = backupFields.int("keep", in: 1...10_000) ?? backup.keep
            backup.keepDays = backupFields.int("keep_days", in: 0...36_500) ?? backup.keepDays
            spec.backup = backup
        }
        return spec
    }

    /// `target`, or `directory` (its older name, for a directory only); exactly one of them.
    private func backupTarget(_ fields: YAMLFields, subject: String) -> String? {
        switch (fields.string("target"), fields.string("directory")) {
        case (let target?, nil): return target
        case (nil, let directory?) where directory.hasPrefix("s3:") || directory.hasPrefix(ObjectStoreReference.scheme):
            problems.report(line: fields.line(of: "directory"), "`directory` of the `backup` of \(subject) names a directory; write `target: \(directory)`")
            return nil
        case (nil, let directory?): return directory
        case (.some, .some):
            problems.report(line: fields.line(of: "directory"), "the `backup` of \(subject) has both `target` and `directory`; keep `target`")
            return nil
        case (nil, nil):
            problems.report(
                line: fields.line, "the `backup` of \(subject) needs a `target`: a directory, s3:http://HOST:PORT/BUCKET/PREFIX or store:NAME/BUCKET")
            return nil
        }
    }
}
