import Yams

/// Reading the top-level `backups` list: scheduled `zonal backup` runs.
extension TopologyReader {
    mutating func readBackupPolicy(_ node: Yams.Node) -> BackupSpec? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a backup policy", problems: problems,
                allowedKeys: [
                    "name", "paths", "repository", "password_file", "interval", "exclude", "one_file_system", "keep", "prune",
                ])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let subject = "backup policy \(name)"
        let fields = unnamed.named(subject)
        record("backups.\(name)", fields.line)
        let paths = fields.stringList("paths", required: true)?.map(\.value) ?? []
        if fields.has("paths"), paths.isEmpty { problems.report(fields["paths"], "`paths` of \(subject) names no directory to back up") }
        let repository = fields.string("repository", required: true)
        record("backups.\(name).repository", fields.line(of: "repository"))
        let passwordFile = fields.string("password_file", required: true)
        let interval = fields.duration("interval")
        if !fields.has("interval") { problems.report(line: fields.line, "\(subject) is missing the required key `interval` (how often it runs, e.g. 1h)") }
        var retention = Retention()
        if let keep = fields["keep"],
            let keepFields = YAMLFields(
                keep, subject: "`keep` of \(subject)", problems: problems,
                allowedKeys: ["last", "hourly", "daily", "weekly", "monthly"])
        {
            retention = Retention(
                last: keepFields.int("last", in: 1...100_000) ?? 0, hourly: keepFields.int("hourly", in: 1...100_000) ?? 0,
                daily: keepFields.int("daily", in: 1...100_000) ?? 0, weekly: keepFields.int("weekly", in: 1...100_000) ?? 0,
                monthly: keepFields.int("monthly", in: 1...100_000) ?? 0)
        }
        let prune = fields.bool("prune") ?? true
        let oneFileSystem = fields.bool("one_file_system") ?? false
        guard let repository, let passwordFile, let interval, !paths.isEmpty else { return nil }
        return BackupSpec(
            name: name, paths: paths, repository: repository, passwordFile: passwordFile, interval: interval,
            excludes: fields.stringList("exclude")?.map(\.value) ?? [], oneFileSystem: oneFileSystem, retention: retention, prune: prune)
    }

}
