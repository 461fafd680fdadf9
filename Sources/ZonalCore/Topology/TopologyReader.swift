import Yams

/// Walks a topology's YAML tree once, building the model and recording where each named part
/// was written. Type and shape problems are reported here; references between parts are checked
/// afterwards by ``TopologyValidator``.
struct TopologyReader {
    let problems: ProblemCollector
    private(set) var sourceMap = TopologySourceMap()

    init(problems: ProblemCollector) {
        self.problems = problems
    }

    mutating func read(_ root: Yams.Node) -> Topology? {
        guard
            let fields = YAMLFields(
                root, subject: "the topology", problems: problems,
                allowedKeys: ["name", "coordinator", "supervisor", "regions", "nodes", "services", "backups"])
        else { return nil }
        let name = fields.string("name", required: true)
        let coordinator = fields["coordinator"].flatMap { readCoordinator($0) } ?? CoordinatorSpec()
        let supervisor = fields["supervisor"].flatMap { readSupervisor($0) } ?? SupervisorSpec()
        let regions = (fields.sequence("regions", required: true) ?? []).compactMap { readRegion($0) }
        let nodes = (fields.sequence("nodes", required: true) ?? []).compactMap { readNode($0) }
        let services = (fields.sequence("services") ?? []).compactMap { readService($0, nodes: nodes) }
        let backups = (fields.sequence("backups") ?? []).compactMap { readBackupPolicy($0) }
        guard let name else { return nil }
        return Topology(
            name: name, coordinator: coordinator, supervisor: supervisor,
            regions: regions, nodes: nodes, services: services, backups: backups)
    }

    private mutating func readCoordinator(_ node: Yams.Node) -> CoordinatorSpec? {
        guard
            let fields = YAMLFields(
                node, subject: "`coordinator`", problems: problems,
                allowedKeys: ["backend", "endpoints", "host", "port", "local_cluster", "user", "password_file", "tls"])
        else { return nil }
        record("coordinator", fields.line)
        var settings = CoordinatorSpec()
        settings.backend = fields.choice("backend", CoordinatorSpec.Backend.self, noun: "coordinator backend") ?? settings.backend
        settings.endpoints = fields.stringList("endpoints")?.map(\.value) ?? []
        settings.host = fields.string("host") ?? settings.host
        settings.port = fields.int("port", in: 1...65535) ?? settings.port
        settings.localCluster = fields.bool("local_cluster") ?? settings.localCluster
        settings.user = fields.string("user")
        settings.passwordFile = fields.string("password_file")
        if let tlsNode = fields["tls"],
            let tls = YAMLFields(tlsNode, subject: "`coordinator.tls`", problems: problems, allowedKeys: ["ca", "certificate", "key"]),
            let ca = tls.string("ca", required: true)
        {
            settings.tls = CoordinatorSpec.TLSFiles(ca: ca, certificate: tls.string("certificate"), key: tls.string("key"))
        }
        return settings
    }

    private mutating func readSupervisor(_ node: Yams.Node) -> SupervisorSpec? {
        guard
            let fields = YAMLFields(
                node, subject: "`supervisor`", problems: problems,
                allowedKeys: ["control_host", "control_port", "state_dir", "restart", "api"])
        else { return nil }
        var settings = SupervisorSpec()
        settings.controlHost = fields.string("control_host") ?? settings.controlHost
        settings.controlPort = fields.int("control_port", in: 1...65535) ?? settings.controlPort
        settings.stateDirectory = fields.string("state_dir")
        record("supervisor.control", fields.line(of: "control_port"))
        if let restartNode = fields["restart"],
            let restart = YAMLFields(
                restartNode, subject: "`supervisor.restart`", problems: problems,
                allowedKeys: ["initial_backoff", "max_backoff", "stable_after"])
        {
            settings.restart.initialBackoff = restart.duration("initial_backoff") ?? settings.restart.initialBackoff
            settings.restart.maxBackoff = restart.duration("max_backoff") ?? settings.restart.maxBackoff
            settings.restart.stableAfter = restart.duration("stable_after") ?? settings.restart.stableAfter
            record("supervisor.restart", restart.line)
        }
        if let apiNode = fields["api"],
            let api = YAMLFields(apiNode, subject: "`supervisor.api`", problems: problems, allowedKeys: ["max_connections", "idle_timeout", "metrics"])
        {
            settings.api.maxConnections = api.int("max_connections", in: 1...100_000) ?? settings.api.maxConnections
            settings.api.idleTimeout = api.duration("idle_timeout") ?? settings.api.idleTimeout
            settings.api.metrics = api.choice("metrics", MetricsAccess.self) ?? settings.api.metrics
        }
        return settings
    }

    private mutating func readRegion(_ node: Yams.Node) -> Topology.Region? {
        guard let unnamed = YAMLFields(node, subject: "a region", problems: problems, allowedKeys: ["name", "zones"]) else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let fields = unnamed.named("region \(name)")
        let zones = fields.stringList("zones", required: true) ?? []
        record("regions.\(name)", fields.line)
        for zone in zones {
            record("zones.\(zone.value)", zone.line)
            record("regions.\(name).zones.\(zone.value)", zone.line)
        }
        return Topology.Region(name: name, zones: zones.map(\.value))
    }

    private mutating func readNode(_ node: Yams.Node) -> Topology.Node? {
        guard let unnamed = YAMLFields(node, subject: "a node", problems: problems, allowedKeys: ["name", "zone", "address"]) else { return nil }
        let name = unnamed.string("name", required: true)
        let fields = unnamed.named(name.map { "node \($0)" } ?? "a node")
        let zone = fields.string("zone", required: true)
        let address = fields.string("address", required: true)
        guard let name, let zone, let address else { return nil }
        record("nodes.\(name)", fields.line)
        record("nodes.\(name).zone", fields.line(of: "zone"))
        record("nodes.\(name).address", fields.line(of: "address"))
        return Topology.Node(name: name, zone: zone, address: address)
    }

    private mutating func readService(_ node: Yams.Node, nodes: [Topology.Node]) -> Topology.Service? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a service", problems: problems,
                allowedKeys: [
                    "name", "kind", "command", "nodes", "zones", "port", "admin_port", "primary_zone", "secondary_zone", "health", "balancer", "database",
                    "dns", "cache", "proxy", "objects", "s3",
                ])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let subject = "service \(name)"
        let fields = unnamed.named(subject)
        let port = fields.int("port", in: 1...65535, required: true)
        let kind = readServiceKind(fields, subject: subject, port: port)
        let adminPort = fields.int("admin_port", in: 1...65535)
        record("services.\(name)", fields.line)
        record("services.\(name).port", fields.line(of: "port"))
        record("services.\(name).admin_port", fields.line(of: "admin_port"))
        record("services.\(name).primary_zone", fields.line(of: "primary_zone"))
        record("services.\(name).secondary_zone", fields.line(of: "secondary_zone"))

        let placement = readPlacement(fields, service: name, nodes: nodes)
        let defaultProbe: HealthCheckSpec.Probe = kind == .app ? .http(path: "/health", port: nil, expectedStatus: 200, bodyContains: nil) : .tcp(port: nil)
        let health =
            fields["health"].flatMap { readHealth($0, subject: "`health` of \(subject)", defaultProbe: defaultProbe) }
            ?? HealthCheckSpec(probe: defaultProbe)
        record("services.\(name).health", fields.line(of: "health"))

        guard let kind, let port else { return nil }
        return Topology.Service(
            name: name, kind: kind, nodes: placement, port: port, adminPort: adminPort,
            primaryZone: fields.string("primary_zone"), secondaryZone: fields.string("secondary_zone"),
            health: health)
    }

    private mutating func readServiceKind(_ fields: YAMLFields, subject: String, port: Int?) -> Topology.Service.Kind? {
        let kindName = fields.string("kind", required: true)
        let command = fields.stringList("command")?.map(\.value)
        if kindName != "balancer", fields.has("balancer") {
            problems.report(
                line: fields.line(of: "balancer"), "`balancer` settings are only for services of kind `balancer`; \(subject) is of kind `\(kindName ?? "?")`")
        }
        if kindName != "postgres", fields.has("database") {
            problems.report(
                line: fields.line(of: "database"), "`database` settings are only for services of kind `postgres`; \(subject) is of kind `\(kindName ?? "?")`")
        }
        if kindName != "dns", fields.has("dns") {
            problems.report(line: fields.line(of: "dns"), "`dns` settings are only for services of kind `dns`; \(subject) is of kind `\(kindName ?? "?")`")
        }
        for (key, kind) in [("cache", "redis"), ("proxy", "redis-proxy"), ("objects", "object-store"), ("s3", "s3")] where kindName != kind && fields.has(key) {
            problems.report(line: fields.line(of: key), "`\(key)` settings are only for services of kind `\(kind)`; \(subject) is of kind `\(kindName ?? "?")`")
        }
        switch kindName {
        case "object-store":
            return readObjectStore(fields["objects"], subject: subject).map { .objectStore($0) }
        case "s3":
            return readS3Gateway(fields["s3"], subject: subject).map { .s3($0) }
        case "redis":
            return readCache(fields["cache"], subject: subject).map { .redis($0) }
        case "redis-proxy":
            return readCacheProxy(fields["proxy"], subject: subject).map { .redisProxy($0) }
        case "dns":
            return readDNS(fields["dns"], subject: subject).map { .dns($0) }
        case "postgres":
            return readDatabase(fields["database"], subject: subject).map { .postgres($0) }
        case "balancer":
            return readBalancer(fields["balancer"], subject: subject, port: port).map { .balancer($0) }
        case "app":
            if command != nil {
                problems.report(line: fields.line(of: "command"), "`command` is only for services of kind `process`; \(subject) is of kind `app`")
            }
            return .app
        case "process":
            guard let command, !command.isEmpty else {
                problems.report(
                    line: fields.line(of: "kind"),
                    "\(subject) is of kind `process` and needs a `command` list, such as [/usr/bin/python3, -m, http.server, \"{port}\"]")
                return nil
            }
            return .process(command: command)
        case let other?:
            problems.report(
                fields["kind"],
                "unknown service kind `\(other)` in \(subject); this version runs: app, process, balancer, postgres, dns, redis, redis-proxy, object-store, s3")
            return nil
        case nil:
            return nil
        }
    }

    /// The nodes a service runs on: `nodes` names them, `zones` means every node in those zones.
    private mutating func readPlacement(_ fields: YAMLFields, service: String, nodes: [Topology.Node]) -> [String] {
        let byNode = fields.stringList("nodes")
        let byZone = fields.stringList("zones")
        if !fields.has("nodes") && !fields.has("zones") {
            problems.report(line: fields.line, "service \(service) is placed nowhere: give `nodes` (a list of node names) or `zones` (a list of zone names)")
        }
        var placement: [String] = []
        for entry in byNode ?? [] {
            record("services.\(service).nodes.\(entry.value)", entry.line)
            placement.append(entry.value)
        }
        for entry in byZone ?? [] {
            record("services.\(service).zones.\(entry.value)", entry.line)
            for node in nodes where node.zone == entry.value && !placement.contains(node.name) {
                record("services.\(service).nodes.\(node.name)", entry.line)
                placement.append(node.name)
            }
        }
        return placement
    }

    func readHealth(_ node: Yams.Node, subject: String, defaultProbe: HealthCheckSpec.Probe) -> HealthCheckSpec? {
        guard
            let fields = YAMLFields(
                node, subject: subject, problems: problems,
                allowedKeys: ["tcp", "http", "command", "interval", "timeout", "rise", "fall"])
        else { return nil }
        let probeKeys = ["tcp", "http", "command"].filter(fields.has)
        if probeKeys.count > 1 {
            problems.report(
                line: fields.line, "\(subject) names \(probeKeys.count) probes (\(probeKeys.joined(separator: ", "))); give exactly one of tcp, http, command")
        }
        var spec = HealthCheckSpec(probe: defaultProbe)
        if let tcp = fields["tcp"], let tcpFields = YAMLFields(tcp, subject: "`tcp` of \(subject)", problems: problems, allowedKeys: ["port"]) {
            spec.probe = .tcp(port: tcpFields.int("port", in: 1...65535))
        }
        if let http = fields["http"],
            let httpFields = YAMLFields(
                http, subject: "`http` of \(subject)", problems: problems,
                allowedKeys: ["path", "port", "status", "body_contains"])
        {
            let path = httpFields.string("path") ?? "/health"
            if !path.hasPrefix("/") {
                problems.report(httpFields["path"], "`path` of \(subject) must start with /, got \"\(path)\"")
            }
            spec.probe = .http(
                path: path, port: httpFields.int("port", in: 1...65535),
                expectedStatus: httpFields.int("status", in: 100...599) ?? 200,
                bodyContains: httpFields.string("body_contains"))
        }
        if fields.has("command") {
            let command = fields.stringList("command")?.map(\.value) ?? []
            if command.isEmpty { problems.report(fields["command"], "`command` of \(subject) must name a program to run") }
            spec.probe = .command(command)
        }
        spec.interval = fields.duration("interval") ?? spec.interval
        spec.timeout = fields.duration("timeout") ?? spec.timeout
        spec.rise = fields.int("rise", in: 1...100) ?? spec.rise
        spec.fall = fields.int("fall", in: 1...100) ?? spec.fall
        return spec
    }

    mutating func record(_ path: String, _ line: Int?) {
        sourceMap.record(path, line: line)
    }
}
