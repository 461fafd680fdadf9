import Yams

/// Reading the `balancer` section of a service of kind `balancer`.
extension TopologyReader {
    mutating func readBalancer(_ node: Yams.Node?, subject: String, port: Int?) -> BalancerSpec? {
        let service = String(subject.dropFirst("service ".count))
        let path = "services.\(service).balancer"
        guard let node else {
            problems.report(line: nil, "\(subject) is of kind `balancer` and needs a `balancer` section with at least one pool")
            return nil
        }
        guard
            let fields = YAMLFields(
                node, subject: "`balancer` of \(subject)", problems: problems,
                allowedKeys: ["listeners", "pools", "http", "connections", "admin_token"])
        else { return nil }
        record(path, fields.line)
        let pools = (fields.sequence("pools", required: true) ?? []).compactMap { readPool($0, path: path, subject: subject) }
        var listeners = (fields.sequence("listeners") ?? []).compactMap { readListener($0, path: path, subject: subject) }
        if !fields.has("listeners"), let port, let first = pools.first {
            listeners = [BalancerSpec.Listener(name: "http", port: port, mode: .http, pool: first.name)]
            record("\(path).listeners.http", fields.line)
        }
        var http = HTTPSpec()
        if let httpNode = fields["http"],
            let httpFields = YAMLFields(
                httpNode, subject: "`http` of \(subject)", problems: problems,
                allowedKeys: [
                    "header_timeout", "keep_alive_timeout", "server_timeout", "tunnel_timeout", "max_header_size", "max_body_size",
                ])
        {
            http.headerTimeout = httpFields.duration("header_timeout") ?? http.headerTimeout
            http.keepAliveTimeout = httpFields.duration("keep_alive_timeout") ?? http.keepAliveTimeout
            http.serverTimeout = httpFields.duration("server_timeout") ?? http.serverTimeout
            http.tunnelTimeout = httpFields.duration("tunnel_timeout") ?? http.tunnelTimeout
            http.limits.maxHeaderBytes = httpFields.int("max_header_size", in: 1024...(1 << 20)) ?? http.limits.maxHeaderBytes
            http.limits.maxBodyBytes = httpFields.int("max_body_size", in: 0...Int.max) ?? http.limits.maxBodyBytes
        }
        var connections = ConnectionLimits()
        if let connectionsNode = fields["connections"],
            let connectionFields = YAMLFields(
                connectionsNode, subject: "`connections` of \(subject)", problems: problems,
                allowedKeys: ["max", "tcp_idle_timeout", "drain_timeout"])
        {
            connections.maxConnections = connectionFields.int("max", in: 1...1_000_000) ?? connections.maxConnections
            connections.tcpIdleTimeout = connectionFields.duration("tcp_idle_timeout") ?? connections.tcpIdleTimeout
            connections.drainTimeout = connectionFields.duration("drain_timeout") ?? connections.drainTimeout
        }
        record("\(path).admin_token", fields.line(of: "admin_token"))
        return BalancerSpec(listeners: listeners, pools: pools, http: http, connections: connections, adminToken: fields.string("admin_token"))
    }

    private mutating func readListener(_ node: Yams.Node, path: String, subject: String) -> BalancerSpec.Listener? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a listener of \(subject)", problems: problems, allowedKeys: ["name", "port", "mode", "pool", "tls", "http2"])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let fields = unnamed.named("listener \(name) of \(subject)")
        record("\(path).listeners.\(name)", fields.line)
        let port = fields.int("port", in: 1...65535, required: true)
        let pool = fields.string("pool", required: true)
        let mode = fields.named("listener \(name) of \(subject)").choice("mode", BalancerSpec.Mode.self) ?? .http
        var tls: BalancerSpec.TLSFiles?
        if let tlsNode = fields["tls"],
            let tlsFields = YAMLFields(
                tlsNode, subject: "`tls` of listener \(name) of \(subject)", problems: problems,
                allowedKeys: ["certificate", "key"])
        {
            let certificate = tlsFields.string("certificate", required: true)
            let key = tlsFields.string("key", required: true)
            if let certificate, let key { tls = BalancerSpec.TLSFiles(certificate: certificate, key: key) }
        }
        let http2 = fields.bool("http2")
        if http2 != nil && mode == .tcp {
            problems.report(line: fields.line(of: "http2"), "`http2` of listener \(name) of \(subject) applies to http and https listeners, not tcp")
        }
        guard let port, let pool else { return nil }
        return BalancerSpec.Listener(name: name, port: port, mode: mode, pool: pool, tls: tls, http2: http2 ?? true)
    }

    private mutating func readPool(_ node: Yams.Node, path: String, subject: String) -> BalancerSpec.Pool? {
        guard
            let unnamed = YAMLFields(
                node, subject: "a pool of \(subject)", problems: problems,
                allowedKeys: [
                    "name", "service", "servers", "scheduling", "persistence", "primary_zone", "secondary_zone", "retries",
                    "connect_timeout", "failback_hold_down", "outlier", "health", "role",
                ])
        else { return nil }
        guard let name = unnamed.string("name", required: true) else { return nil }
        let poolSubject = "pool \(name) of \(subject)"
        let fields = unnamed.named(poolSubject)
        let poolPath = "\(path).pools.\(name)"
        record(poolPath, fields.line)
        var pool = BalancerSpec.Pool(name: name, service: fields.string("service"))
        record("\(poolPath).service", fields.line(of: "service"))
        pool.servers = (fields.sequence("servers") ?? []).compactMap { readServer($0, subject: poolSubject) }
        if pool.service != nil && fields.has("servers") || pool.service == nil && !fields.has("servers") {
            problems.report(
                line: fields.line,
                "\(poolSubject) needs exactly one of `service` (a service whose instances are the servers) or `servers` (a list of address, port, zone)")
        }
        pool.scheduling = fields.choice("scheduling", BalancerScheduling.self) ?? pool.scheduling
        if let persistence = fields["persistence"] { pool.persistence = readPersistence(persistence, subject: poolSubject) }
        record("\(poolPath).persistence", fields.line(of: "persistence"))
        pool.primaryZone = fields.string("primary_zone")
        pool.secondaryZone = fields.string("secondary_zone")
        record("\(poolPath).primary_zone", fields.line(of: "primary_zone"))
        record("\(poolPath).secondary_zone", fields.line(of: "secondary_zone"))
        pool.retries = fields.int("retries", in: 0...10) ?? pool.retries
        pool.connectTimeout = fields.duration("connect_timeout") ?? pool.connectTimeout
        pool.failbackHoldDown = fields.duration("failback_hold_down") ?? pool.failbackHoldDown
        if let outlier = fields["outlier"],
            let outlierFields = YAMLFields(
                outlier, subject: "`outlier` of \(poolSubject)", problems: problems,
                allowedKeys: ["consecutive_failures", "base_ejection", "max_ejection"])
        {
            pool.outliers.consecutiveFailures = outlierFields.int("consecutive_failures", in: 1...1000) ?? pool.outliers.consecutiveFailures
            pool.outliers.baseEjection = outlierFields.duration("base_ejection") ?? pool.outliers.baseEjection
            pool.outliers.maxEjection = outlierFields.duration("max_ejection") ?? pool.outliers.maxEjection
        }
        pool.health = fields["health"].flatMap { readHealth($0, subject: "`health` of \(poolSubject)", defaultProbe: .tcp(port: nil)) }
        pool.role = fields.choice("role", DatabaseSpec.Role.self) ?? pool.role
        record("\(poolPath).role", fields.line(of: "role"))
        return pool
    }

    private func readServer(_ node: Yams.Node, subject: String) -> BalancerSpec.Server? {
        guard
            let fields = YAMLFields(
                node, subject: "a server of \(subject)", problems: problems,
                allowedKeys: ["name", "address", "port", "zone", "weight"])
        else { return nil }
        let address = fields.string("address", required: true)
        let port = fields.int("port", in: 1...65535, required: true)
        let zone = fields.string("zone", required: true)
        let weight = fields.int("weight", in: 0...1000) ?? 1
        guard let address, let port, let zone else { return nil }
        return BalancerSpec.Server(name: fields.string("name"), address: address, port: port, zone: zone, weight: weight)
    }

    private func readPersistence(_ node: Yams.Node, subject: String) -> BalancerSpec.Persistence {
        var persistence = BalancerSpec.Persistence()
        func parseKind(_ text: String, at node: Yams.Node?) {
            if let parsed = BalancerSpec.Persistence.Kind(rawValue: text) {
                persistence.kind = parsed
            } else {
                problems.report(
                    node,
                    "unknown persistence `\(text)` of \(subject); use one of: \(BalancerSpec.Persistence.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
        }
        if let kind = node.scalar?.string {
            // The short form: `persistence: cookie`.
            parseKind(kind, at: node)
            return persistence
        }
        guard let fields = YAMLFields(node, subject: "`persistence` of \(subject)", problems: problems, allowedKeys: ["kind", "cookie", "timeout"]) else {
            return persistence
        }
        if let kind = fields.string("kind", required: true) { parseKind(kind, at: fields["kind"]) }
        if let cookie = fields.string("cookie") {
            if cookie.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-".contains($0)) }) {
                persistence.cookie = cookie
            } else {
                problems.report(fields["cookie"], "cookie name \"\(cookie)\" of \(subject) may hold only letters, digits, _ and -")
            }
        }
        persistence.timeout = fields.duration("timeout") ?? persistence.timeout
        return persistence
    }
}
