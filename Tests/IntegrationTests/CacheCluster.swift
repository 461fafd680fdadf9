import AsyncHTTPClient
import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// A real Redis service for tests: an embedded coordinator (`zonal coordinator serve`), one
/// `zonal cache agent` per node (each Redis on its node's own loopback address) and one
/// `zonal cache proxy`. Clients are the ones people use: redis-cli and redis-py.
final class CacheCluster: @unchecked Sendable {
    let directory: TemporaryDirectory
    let file: String
    let nodes: [String: String]
    let proxyHost: String
    let coordinator: ProcessFixture
    private(set) var agents: [String: ProcessFixture] = [:]
    private(set) var proxy: ProcessFixture?
    let token = AdminToken.generate()
    let tokenFile: String

    static let port = 6379
    static let apiPort = 6400
    static let sentinelPort = 26379
    static let proxyPort = 6390

    init(nodes names: [String]) async throws {
        directory = try TemporaryDirectory(prefix: "zonal-cache")
        let coordinatorHost = LoopbackAddress.random()
        proxyHost = LoopbackAddress.random()
        let nodes = Dictionary(uniqueKeysWithValues: names.map { ($0, LoopbackAddress.random()) })
        self.nodes = nodes
        let yaml = """
            name: cachetest
            coordinator: { backend: embedded, host: \(coordinatorHost), port: 7379 }
            regions:
              - { name: east, zones: [\((names.indices.map { "z\($0)" } + ["zp"]).joined(separator: ", "))] }
            nodes:
            \(names.enumerated().map { "  - { name: \($1), zone: z\($0), address: \(nodes[$1]!) }" }.joined(separator: "\n"))
              - { name: p1, zone: zp, address: \(proxyHost) }
            services:
              - name: cache
                kind: redis
                nodes: [\(names.joined(separator: ", "))]
                port: \(Self.port)
                admin_port: \(Self.apiPort)
              - name: cache-proxy
                kind: redis-proxy
                nodes: [p1]
                port: \(Self.proxyPort)
                proxy: { cache: cache, wait_for_master: 3s }
            """
        file = try directory.write("topology.yaml", yaml)
        tokenFile = try directory.writePrivate("admin-token", token.secret)
        coordinator = try ProcessFixture.coordinator(host: coordinatorHost, directory: directory, tokenFile: tokenFile)
        for name in names { try startAgent(name) }
    }

    var environment: [String: String] { [AdminToken.fileEnvironmentKey: tokenFile] }

    func startAgent(_ name: String) throws {
        agents[name] = try ProcessFixture(
            executable: ZonalBinary.path, arguments: ["cache", "agent", "--topology", file, "--node", name, "--state-dir", directory.file("state")],
            outputPath: directory.file("agent-\(name)-\(UUID().uuidString.prefix(4)).out"), environment: environment)
    }

    /// Starts the proxy once the password exists (the first agent writes it).
    func startProxy() async throws {
        #expect(await poll(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: self.passwordFile) } != nil)
        proxy = try ProcessFixture(
            executable: ZonalBinary.path, arguments: ["cache", "proxy", "--topology", file, "--state-dir", directory.file("state")],
            outputPath: directory.file("proxy.out"), environment: environment)
    }

    var passwordFile: String { directory.file("state/cache/redis.password") }
    var password: String { ((try? String(contentsOfFile: passwordFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }

    /// kill -9 of the node's agent; its guard takes Redis down with it.
    func kill9(_ name: String) {
        agents[name]?.signal(SIGKILL)
    }

    /// The agent API's answer code on `path`, nil when it does not answer.
    func api(_ name: String, _ path: String) async -> UInt? {
        guard let response = try? await databaseClient.get(url: "http://\(nodes[name]!):\(Self.apiPort)\(path)").get() else { return nil }
        return response.status.code
    }

    /// The node answering 200 on `/master`, waiting up to `timeout`.
    func waitForMaster(among names: [String]? = nil, timeout: Duration = .seconds(30)) async -> String? {
        var found: String?
        await poll(timeout: timeout) {
            for name in names ?? Array(nodes.keys) where await api(name, "/master") == 200 {
                found = name
                return true
            }
            return false
        }
        return found
    }

    func waitForReplica(_ name: String, timeout: Duration = .seconds(30)) async -> Bool {
        await poll(timeout: timeout) { await self.api(name, "/replica") == 200 } != nil
    }

    /// redis-cli against `host:port` with the service's password; its output, trimmed.
    func redisCLI(host: String, port: Int, _ arguments: [String], timeout: Duration = .seconds(10)) async -> String {
        guard
            let fixture = try? ProcessFixture(
                executable: "/usr/bin/redis-cli", arguments: ["-h", host, "-p", "\(port)", "--no-auth-warning", "-a", password] + arguments,
                outputPath: directory.file("cli-\(UUID().uuidString.prefix(8)).out"))
        else { return "" }
        _ = await fixture.waitForExit(timeout: timeout)
        fixture.signal(SIGKILL)
        defer { try? FileManager.default.removeItem(atPath: fixture.outputPath) }
        return fixture.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func redisCLI(_ name: String, _ arguments: [String]) async -> String {
        await redisCLI(host: nodes[name]!, port: Self.port, arguments)
    }

    /// Runs a redis-py script (Debian's python3-redis) with `arguments`; its exit status and output.
    func python(_ script: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32?, output: String) {
        let path = try directory.write("script-\(UUID().uuidString.prefix(8)).py", script)
        let fixture = try ProcessFixture(executable: "/usr/bin/python3", arguments: [path] + arguments, outputPath: path + ".out")
        let status = await fixture.waitForExit(timeout: timeout)
        fixture.signal(SIGKILL)
        return (status, fixture.output)
    }

    func output(_ name: String) -> String {
        agents[name]?.output ?? ""
    }

    func stop() async {
        await proxy?.stop()
        for agent in agents.values { await agent.stop(grace: .seconds(10)) }
        await coordinator.stop()
        directory.remove()
    }
}
