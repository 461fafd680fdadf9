import Foundation
import Logging
import ZonalCore
import ZonalProcess

/// One node's Redis server: its configuration file, its process (a child of the agent behind a
/// ``ServerGuard``, so it dies with the agent even on SIGKILL and never lives on unfenced) and the
/// connection the agent observes and commands it through.
actor RedisServer {
    let plan: CacheNodePlan
    let password: CachePassword
    let logger: Logger
    private var process: ChildProcess?
    private var client: RedisClient?

    init(plan: CacheNodePlan, password: CachePassword, logger: Logger) {
        self.plan = plan
        self.password = password
        self.logger = logger
    }

    var configFile: String { (plan.dataDirectory as NSString).deletingLastPathComponent + "/redis.conf" }

    /// The settings Zonal owns; `parameters` from the topology come after them and may add more,
    /// never replace these (the validator does not know Redis's settings, Redis does: it refuses
    /// a file that names one twice).
    func configuration(replicaOf leader: CacheNodePlan.Endpoint?) -> String {
        let spec = plan.spec
        var lines = [
            "# Written by the Zonal agent of \(plan.me.name) at every start; edit the topology instead.",
            "bind \(plan.me.host)",
            "port \(plan.me.port)",
            "protected-mode no",
            "daemonize no",
            "dir \(plan.dataDirectory)",
            "appendonly yes",
            "appendfsync \(spec.appendFsync.rawValue)",
            "aof-use-rdb-preamble yes",
            "requirepass \(password.secret)",
            "masterauth \(password.secret)",
            "replica-read-only yes",
            "replica-serve-stale-data yes",
            "replica-priority \(plan.me.promotable ? 100 : 0)",
            "replica-announce-ip \(plan.me.host)",
            "min-replicas-to-write \(spec.minReplicasToWrite)",
            "min-replicas-max-lag \(spec.minReplicasMaxLag)",
            "repl-diskless-sync yes",
            "repl-diskless-sync-delay 0",
            "shutdown-timeout 2",
        ]
        if let leader { lines.append("replicaof \(leader.host) \(leader.port)") }
        for (name, value) in spec.parameters.sorted(by: { $0.key < $1.key }) { lines.append("\(name) \(value)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes the configuration and starts Redis; returns at once (it may still be loading).
    func start(replicaOf leader: CacheNodePlan.Endpoint?) async throws {
        await disconnect()
        try FileManager.default.createDirectory(atPath: plan.dataDirectory, withIntermediateDirectories: true)
        try DurableFile.write(Array(configuration(replicaOf: leader).utf8), to: configFile, permissions: 0o600)
        process = try await ChildProcess.launch(
            ProcessPlan(
                executable: ZonalExecutable.current,
                arguments: ["guard", "--parent", String(getpid()), "--stop-signal", "KILL", "--", plan.serverPath, configFile],
                logFile: plan.logFile))
    }

    /// Whether the server this agent started still runs.
    var isRunning: Bool {
        guard let process else { return false }
        return kill(process.pid, 0) == 0
    }

    /// The server's replication state; nil while it does not answer or still loads its data.
    func replication() async -> ReplicationInfo? {
        guard let reply = try? await command(["INFO", "replication"]), let text = reply.text else { return nil }
        if text.contains("loading:1") { return nil }
        return ReplicationInfo(text)
    }

    /// Sends a command over the agent's connection, connecting first when needed.
    @discardableResult
    func command(_ words: [String]) async throws -> RESPValue {
        let client: RedisClient
        if let existing = self.client, existing.isActive {
            client = existing
        } else {
            client = try await RedisClient.connect(host: plan.me.host, port: plan.me.port, password: password.secret, timeout: .seconds(1))
            self.client = client
        }
        let reply = try await client.send(words)
        if case .error(let message) = reply { throw CacheError.redis("\(words.first ?? "") failed on \(plan.me.name): \(message)") }
        return reply
    }

    /// Stops Redis: SIGTERM to the guard, which kills the server at once.
    func stop() async {
        await disconnect()
        guard let process else { return }
        process.signalGroup(SIGTERM)
        _ = await process.termination.value
        self.process = nil
    }

    private func disconnect() async {
        await client?.close()
        client = nil
    }
}
