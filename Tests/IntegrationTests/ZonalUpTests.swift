import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// `zonal up` as an operator runs it: a real binary, real child processes, the CLI from outside.
@Suite("zonal up end to end", .serialized)
struct ZonalUpTests {
    struct Environment {
        let directory: TemporaryDirectory
        let topologyFile: String
        let topology: Topology
        /// A name unique to this run, in every child's command line, to find leftovers.
        let marker: String
    }

    /// Three nodes in three zones of two regions with one sample app; the embedded coordinator
    /// unless `coordinator` says otherwise.
    func makeEnvironment(coordinator: String = "{ backend: embedded, host: \(LoopbackAddress.random()), port: 7379 }") throws -> Environment {
        let directory = try TemporaryDirectory(prefix: "zonal-up")
        let marker = "itest\(UInt32.random(in: 0...UInt32.max))"
        let yaml = """
            name: \(marker)
            coordinator: \(coordinator)
            supervisor:
              control_host: \(LoopbackAddress.random())
              control_port: 7300
              state_dir: \(directory.path)/state
            regions:
              - { name: east, zones: [east-a, east-b] }
              - { name: west, zones: [west-a] }
            nodes:
              - { name: a1, zone: east-a, address: \(LoopbackAddress.random()) }
              - { name: b1, zone: east-b, address: \(LoopbackAddress.random()) }
              - { name: w1, zone: west-a, address: \(LoopbackAddress.random()) }
            services:
              - name: \(marker)
                kind: app
                zones: [east-a, east-b, west-a]
                port: 8080
                admin_port: 9080
                primary_zone: east-a
                secondary_zone: east-b
                health: { http: { path: /health }, interval: 200ms, timeout: 200ms, rise: 1, fall: 2 }
            """
        let file = try directory.write("topology.yaml", yaml)
        return Environment(directory: directory, topologyFile: file, topology: try TopologyLoader.load(path: file), marker: marker)
    }

    func status(_ env: Environment) async throws -> [[String: Any]] {
        let (code, output) = try await ZonalBinary.run(["status", "-f", env.topologyFile, "--json"], directory: env.directory)
        guard code == 0, let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
            let instances = json["instances"] as? [[String: Any]]
        else { return [] }
        return instances
    }

    /// Whether `zonal up` reported all `instances` healthy within a minute; records why not.
    func isUp(_ up: ProcessFixture, instances: Int = 3) async -> Bool {
        guard await poll(timeout: .seconds(60), until: { up.output.contains("is up: \(instances)/\(instances) instances healthy") }) != nil else {
            Issue.record("zonal up did not become ready:\n\(up.output)")
            return false
        }
        return true
    }

    func health(_ instances: [[String: Any]], zone: String) -> [String] {
        instances.filter { $0["zone"] as? String == zone }.compactMap { $0["health"] as? String }
    }

    @Test("fail a zone, see it down within the health-check time, recover it, stop with no orphans")
    func failAndRecoverZone() async throws {
        let env = try makeEnvironment()
        defer { env.directory.remove() }
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", env.topologyFile], outputPath: env.directory.file("up.out"))
        defer { up.signal(SIGKILL) }
        guard await isUp(up) else { return }
        #expect(up.output.contains("http://\(env.topology.nodes[0].address):8080"))

        let (failCode, failOutput) = try await ZonalBinary.run(["fail", "zone", "east-a", "-f", env.topologyFile], directory: env.directory)
        let failedAt = ContinuousClock.now
        #expect(failCode == 0 && failOutput.contains("kill -9: failed by operator"), "\(failOutput)")

        // The configured checks (200 ms interval and timeout, fall 2) notice within 600 ms; allow
        // for the time each `zonal status` run itself takes.
        let detection = env.topology.services[0].health.worstCaseDetectionTime
        var seenDown: Duration?
        await poll(every: .milliseconds(20), timeout: .seconds(10)) {
            guard (try? await health(status(env), zone: "east-a")) == ["unhealthy"] else { return false }
            seenDown = ContinuousClock.now - failedAt
            return true
        }
        let observed = try #require(seenDown, "east-a never reported down")
        #expect(observed <= detection + .milliseconds(700), "east-a reported down after \(observed), checks allow \(detection)")
        let others = try await status(env)
        #expect(health(others, zone: "east-b") == ["healthy"] && health(others, zone: "west-a") == ["healthy"])
        #expect(processesMentioning("--zone east-a").filter { processesMentioning(env.marker).contains($0) }.isEmpty)

        let (recoverCode, _) = try await ZonalBinary.run(["recover", "zone", "east-a", "-f", env.topologyFile], directory: env.directory)
        #expect(recoverCode == 0)
        let healthyAgain = await poll(timeout: .seconds(20)) { (try? await health(status(env), zone: "east-a")) == ["healthy"] }
        #expect(healthyAgain != nil)

        let (_, events) = try await ZonalBinary.run(["events", "-f", env.topologyFile], directory: env.directory)
        for fragment in ["zone-failed east-a", "zone-recovered east-a", "healthy -> unhealthy", "unhealthy -> healthy"] {
            #expect(events.contains(fragment), "events lack \(fragment):\n\(events)")
        }

        let children = processesMentioning(env.marker).filter { $0 != up.pid }
        #expect(children.count == 3)
        up.signal(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(15)) != nil, "zonal up did not stop on SIGTERM")
        let leftovers = await poll(timeout: .seconds(3)) { processesMentioning(env.marker).isEmpty }
        #expect(leftovers != nil, "processes left after shutdown: \(processesMentioning(env.marker))")
        #expect(FileManager.default.fileExists(atPath: "\(env.directory.path)/state/events.jsonl"))
    }

    @Test("control surfaces refuse requests without the generated token; hostile numbers get a 4xx; the supervisor keeps serving")
    func credentialsAndHostileRequests() async throws {
        let env = try makeEnvironment()
        defer { env.directory.remove() }
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", env.topologyFile], outputPath: env.directory.file("up.out"))
        defer { up.signal(SIGKILL) }
        guard await isUp(up) else { return }
        let tokenPath = env.directory.file("state/admin-token")
        #expect((try FileManager.default.attributesOfItem(atPath: tokenPath)[.posixPermissions] as? Int) == 0o600)
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let control = "http://\(env.topology.supervisor.controlHost):7300"
        let coordinator = env.topology.coordinator.clientEndpoints[0]
        let app = "http://\(env.topology.nodes[0].address):9080"

        for (method, url) in [
            ("POST", "\(control)/v1/fail/zone/east-a"), ("GET", "\(control)/v1/status"), ("POST", "\(coordinator)/v3/kv/put"),
            ("POST", "\(coordinator)/v3/lease/grant"), ("PUT", "\(app)/fault"),
        ] {
            for headers in [[], ["-H", "Authorization: Bearer wrong"], ["-H", "Authorization: \(token.dropLast())"]] {
                let answer = try await Curl.run(
                    ["-X", method, url, "-d", #"{"key":"L2E=","TTL":"5","mode":"fail","status":500}"#] + headers, directory: env.directory)
                #expect(answer.status == 401, "\(method) \(url) \(headers) answered \(answer.status): \(answer.body)")
            }
        }
        #expect(try await Curl.run(["\(control)/health"], directory: env.directory).status == 200, "health stays open")
        for url in ["\(control)/metrics", "\(coordinator)/metrics", "\(app)/metrics"] {
            #expect(try await Curl.run([url], directory: env.directory).status == 200, "\(url) is open to a loopback peer")
        }
        #expect(health(try await status(env), zone: "east-a") == ["healthy"], "nothing was failed without the token")

        // The lease TTL that used to stop the whole supervisor, and its neighbours.
        for ttl in [#""9223372036854775807""#, #""-1""#, #""0""#, #""ten""#, "1e300", #""99999999999999999999""#] {
            let answer = try await Curl.run(
                ["-X", "POST", "\(coordinator)/v3/lease/grant", "-H", "Authorization: \(token)", "-d", #"{"TTL":\#(ttl)}"#], directory: env.directory)
            #expect(answer.status == 400, "TTL \(ttl) answered \(answer.status): \(answer.body)")
        }
        let (coordinatorCode, coordinatorOutput) = try await ZonalBinary.run(["coordinator", "status", "-f", env.topologyFile], directory: env.directory)
        #expect(coordinatorCode == 0 && coordinatorOutput.contains("embedded coordinator"), "\(coordinatorOutput)")
        #expect(
            try await Curl.run(["-X", "PUT", "\(app)/fault", "-H", "Authorization: Bearer \(token)", "-d", #"{"mode":"none"}"#], directory: env.directory)
                .status == 200)
        #expect(
            try await Curl.run(
                ["-X", "PUT", "http://\(env.topology.nodes[0].address):8080/fault", "-d", #"{"mode":"fail","status":500}"#], directory: env.directory
            ).status != 200,
            "the service port has no fault switch")
        #expect(up.isRunning, "the supervisor survived")
        let (statusCode, statusOutput) = try await ZonalBinary.run(["status", "-f", env.topologyFile], directory: env.directory)
        #expect(statusCode == 0, "\(statusOutput)")
    }

    @Test("the etcd members of a local cluster want the admin token as soon as they answer, and still after a restart")
    func localClusterAuthentication() async throws {
        let env = try makeEnvironment(coordinator: "{ backend: etcd, local_cluster: true }")
        defer { env.directory.remove() }
        let etcd = try #require(env.topology.coordinator.endpoints.first)
        for round in 1...2 {
            let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", env.topologyFile], outputPath: env.directory.file("up\(round).out"))
            defer { up.signal(SIGKILL) }
            guard await isUp(up, instances: 6) else { return }
            let token = try String(contentsOfFile: env.directory.file("state/admin-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let refused = await poll(timeout: .seconds(20)) {
                let answer = try? await Curl.run(["-X", "POST", "\(etcd)/v3/kv/put", "-d", #"{"key":"L2E=","value":"Yg=="}"#], directory: env.directory)
                return answer?.status == 400 && answer?.body.contains("user name is empty") == true
            }
            #expect(refused != nil, "round \(round): etcd still takes writes without credentials")
            let wrong = try await Curl.run(
                ["-X", "POST", "\(etcd)/v3/auth/authenticate", "-d", #"{"name":"root","password":"guess"}"#], directory: env.directory)
            #expect(wrong.status == 400 && wrong.body.contains("authentication failed"), "\(wrong)")
            let login = try await Curl.run(
                ["-X", "POST", "\(etcd)/v3/auth/authenticate", "-d", #"{"name":"root","password":"\#(token)"}"#], directory: env.directory)
            #expect(login.status == 200 && login.body.contains("token"), "\(login)")
            let (code, output) = try await ZonalBinary.run(["coordinator", "status", "-f", env.topologyFile], directory: env.directory)
            #expect(code == 0, "round \(round): zonal coordinator status: \(output)")
            up.signal(SIGTERM)
            #expect(await up.waitForExit(timeout: .seconds(20)) != nil, "zonal up did not stop on SIGTERM")
        }
    }

    @Test("children die with a supervisor killed by SIGKILL")
    func noOrphansAfterSupervisorKill() async throws {
        let env = try makeEnvironment()
        defer { env.directory.remove() }
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", env.topologyFile], outputPath: env.directory.file("up.out"))
        let ready = await poll(timeout: .seconds(60)) { up.output.contains("is up") }
        #expect(ready != nil, "\(up.output)")
        #expect(processesMentioning(env.marker).count == 3)
        up.signal(SIGKILL)
        _ = await up.waitForExit(timeout: .seconds(5))
        let gone = await poll(timeout: .seconds(5)) { processesMentioning(env.marker).isEmpty }
        #expect(gone != nil, "orphans: \(processesMentioning(env.marker))")
    }

    @Test("commands explain what is wrong: bad file, no supervisor, unknown zone")
    func clearErrors() async throws {
        let env = try makeEnvironment()
        defer { env.directory.remove() }
        let bad = try env.directory.write("bad.yaml", "name: x\nregions: [{ name: r, zones: [z] }]\nnodes:\n  - { name: n, zone: q, address: 127.0.0.1 }\n")
        let (validateCode, validateOutput) = try await ZonalBinary.run(["validate", bad], directory: env.directory)
        #expect(validateCode == 1)
        #expect(validateOutput.contains("\(bad): line 4: node n is in zone q, which no region declares"), "\(validateOutput)")

        let (okCode, okOutput) = try await ZonalBinary.run(["validate", env.topologyFile], directory: env.directory)
        #expect(okCode == 0 && okOutput.contains("is valid: 2 region(s), 3 zone(s), 3 node(s), 3 service instance(s)"), "\(okOutput)")

        let (statusCode, statusOutput) = try await ZonalBinary.run(["status", "-f", env.topologyFile], directory: env.directory)
        #expect(statusCode == 1)
        #expect(statusOutput.contains("no supervisor answers at http://\(env.topology.supervisor.controlHost):7300"), "\(statusOutput)")

        let (upCode, upOutput) = try await ZonalBinary.run(["up", bad], directory: env.directory)
        #expect(upCode == 1 && upOutput.contains("line 4"), "\(upOutput)")
    }
}
