import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import ZonalCore
import ZonalTesting

let databaseClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.timeout = .init(connect: .seconds(1), read: .seconds(3))
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// A real PostgreSQL cluster for tests: an embedded coordinator (`zonal coordinator serve`) and
/// one `zonal db agent` per node, each node on its own loopback address; optionally each agent
/// reaches the coordinator through a ``TCPRelay`` the test can cut.
final class DatabaseCluster: @unchecked Sendable {
    let directory: TemporaryDirectory
    let file: String
    let nodes: [String: String]
    let coordinatorHost: String
    let coordinator: ProcessFixture
    private(set) var agents: [String: ProcessFixture] = [:]
    private(set) var relays: [String: TCPRelay] = [:]

    /// The admin token the coordinator and the agents share, as `zonal up` would hand it out.
    let token = AdminToken.generate()
    let tokenFile: String

    static let port = 5432
    static let apiPort = 8008

    init(nodes names: [String], edition: String? = nil, settings: String = "", relayed: Bool = false) async throws {
        directory = try TemporaryDirectory(prefix: "zonal-db")
        coordinatorHost = LoopbackAddress.random()
        let nodes = Dictionary(uniqueKeysWithValues: names.map { ($0, LoopbackAddress.random()) })
        self.nodes = nodes
        let zones = names.indices.map { "z\($0)" }
        let yaml = """
            name: dbtest
            coordinator: { backend: embedded, host: \(coordinatorHost), port: 7379 }
            regions:
              - { name: east, zones: [\(zones.joined(separator: ", "))] }
            nodes:
            \(names.enumerated().map { "  - { name: \($1), zone: z\($0), address: \(nodes[$1]!) }" }.joined(separator: "\n"))
            services:
              - name: db
                kind: postgres
                nodes: [\(names.joined(separator: ", "))]
                port: \(Self.port)
                admin_port: \(Self.apiPort)
                database: { edition: \(edition ?? (names.count > 2 ? "cluster" : "ha"))\(settings.isEmpty ? "" : ", " + settings) }
            """
        file = try directory.write("topology.yaml", yaml)
        tokenFile = try directory.writePrivate("admin-token", token.secret)
        coordinator = try ProcessFixture.coordinator(host: coordinatorHost, directory: directory, tokenFile: tokenFile)
        for name in names {
            if relayed { relays[name] = try await TCPRelay(host: coordinatorHost, targetHost: coordinatorHost, targetPort: 7379) }
            try startAgent(name)
        }
    }

    func startAgent(_ name: String) throws {
        var arguments = ["db", "agent", "--topology", file, "--node", name, "--state-dir", directory.file("state")]
        if let relay = relays[name] { arguments += ["--coordinator", "http://\(relay.host):\(relay.port)"] }
        agents[name] = try ProcessFixture(
            executable: ZonalBinary.path, arguments: arguments, outputPath: directory.file("agent-\(name)-\(UUID().uuidString.prefix(4)).out"),
            environment: [AdminToken.fileEnvironmentKey: tokenFile])
    }

    /// kill -9 of the node's agent and of its postmaster.
    func kill9(_ name: String) {
        if let pid = postmasterPID(name) { kill(pid, SIGKILL) }
        agents[name]?.signal(SIGKILL)
    }

    func postmasterPID(_ name: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: directory.file("state/db/\(name)/data/postmaster.pid"), encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first), kill(pid, 0) == 0
        else { return nil }
        return pid
    }

    /// The agent API's answer code on `path`, nil when it does not answer.
    func api(_ name: String, _ path: String) async -> UInt? {
        guard let response = try? await databaseClient.get(url: "http://\(nodes[name]!):\(Self.apiPort)\(path)").get() else { return nil }
        return response.status.code
    }

    func apiJSON(_ name: String, _ path: String) async -> [String: Any]? {
        guard
            let request = try? HTTPClient.Request(url: "http://\(nodes[name]!):\(Self.apiPort)\(path)", headers: ["Authorization": token.authorizationHeader]),
            let response = try? await databaseClient.execute(request: request).get(), let body = response.body,
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { return nil }
        return object
    }

    /// The node answering 200 on `/primary`, waiting up to `timeout`.
    func waitForPrimary(among names: [String]? = nil, timeout: Duration = .seconds(60)) async -> String? {
        var found: String?
        await poll(every: .milliseconds(50), timeout: timeout) {
            for name in names ?? Array(nodes.keys) where await api(name, "/primary") == 200 {
                found = name
                return true
            }
            return false
        }
        return found
    }

    /// The standbys `primary`'s agent says are published as synchronous.
    func synchronousStandbys(of primary: String) async -> [String] {
        let synchronous = await apiJSON(primary, "/status")?["synchronous"] as? [String: Any]
        return synchronous?["members"] as? [String] ?? []
    }

    func waitForReplica(_ name: String, timeout: Duration = .seconds(60)) async -> Bool {
        await poll(timeout: timeout) { await self.api(name, "/replica") == 200 } != nil
    }

    /// The libpq password file the agents write for people and tools.
    var clientPassfile: String { directory.file("state/db/pgpass") }

    /// Runs `sql` with psql on `name`'s server; the output without trailing newline, or nil when it failed.
    func sql(_ name: String, _ sql: String) async -> String? {
        let (status, output) = await psql(name, sql, passfile: clientPassfile)
        return status == 0 ? output : nil
    }

    /// psql's exit status and output, logging in with the password in `passfile` (never prompting).
    func psql(_ name: String, _ sql: String, passfile: String) async -> (status: Int32?, output: String) {
        guard
            let fixture = try? ProcessFixture(
                executable: "/usr/bin/psql",
                arguments: [
                    "-w", "-h", nodes[name]!, "-p", "\(Self.port)", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql,
                ], outputPath: directory.file("psql-\(UUID().uuidString.prefix(8)).out"), environment: ["PGCONNECT_TIMEOUT": "2", "PGPASSFILE": passfile])
        else { return (nil, "") }
        let status = await fixture.waitForExit(timeout: .seconds(20))
        let output = fixture.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try? FileManager.default.removeItem(atPath: fixture.outputPath)
        return (status, output)
    }

    func agentOutput(_ name: String) -> String {
        agents[name]?.output ?? ""
    }

    func stop() async {
        for agent in agents.values { await agent.stop(grace: .seconds(15)) }
        for relay in relays.values { await relay.close() }
        await coordinator.stop()
        directory.remove()
    }
}
