import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

/// One client for the balancer tests, alive as long as the test process.
let balancerClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.timeout = .init(connect: .seconds(2), read: .seconds(20))
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// `zonal up` with two app servers in the primary zone, one in the secondary and two balancer
/// instances in a third zone, all real processes.
struct BalancerTopology {
    let directory: TemporaryDirectory
    let file: String
    let topology: Topology
    let marker: String
    let up: ProcessFixture

    static func start() async throws -> BalancerTopology {
        let directory = try TemporaryDirectory(prefix: "zonal-lb")
        let marker = "lbtest\(UInt32.random(in: 0...UInt32.max))"
        let file = try directory.write("topology.yaml", yaml(marker: marker, directory: directory.path, scheduling: "round_robin"))
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", file], outputPath: directory.file("up.out"))
        let environment = BalancerTopology(directory: directory, file: file, topology: try TopologyLoader.load(path: file), marker: marker, up: up)
        guard await poll(timeout: .seconds(60), until: { up.output.contains("is up: 5/5 instances healthy") }) != nil else {
            up.signal(SIGKILL)
            throw FixtureError("zonal up did not become ready:\n\(up.output)")
        }
        return environment
    }

    static func yaml(marker: String, directory: String, scheduling: String) -> String {
        """
        name: \(marker)
        coordinator: { backend: embedded, host: \(LoopbackAddress.random()), port: 7379 }
        supervisor: { control_host: \(LoopbackAddress.random()), control_port: 7300, state_dir: \(directory)/state }
        regions:
          - { name: east, zones: [east-a, east-b, east-c] }
        nodes:
          - { name: a1, zone: east-a, address: \(LoopbackAddress.random()) }
          - { name: a2, zone: east-a, address: \(LoopbackAddress.random()) }
          - { name: b1, zone: east-b, address: \(LoopbackAddress.random()) }
          - { name: c1, zone: east-c, address: \(LoopbackAddress.random()) }
          - { name: c2, zone: east-c, address: \(LoopbackAddress.random()) }
        services:
          - name: web-\(marker)
            kind: app
            zones: [east-a, east-b]
            port: 8080
            admin_port: 9080
            primary_zone: east-a
            secondary_zone: east-b
            health: { http: { path: /health }, interval: 200ms, timeout: 200ms, rise: 1, fall: 2 }
          - name: lb-\(marker)
            kind: balancer
            nodes: [c1, c2]
            port: 8000
            admin_port: 9000
            balancer:
              pools:
                - name: web
                  service: web-\(marker)
                  scheduling: \(scheduling)
                  persistence: cookie
                  failback_hold_down: 1s
        """
    }

    func address(of node: String) -> String { topology.node(named: node)!.address }
    func url(_ path: String, via node: String = "c1") -> String { "http://\(address(of: node)):8000\(path)" }
    func admin(_ path: String, via node: String = "c1") -> String { "http://\(address(of: node)):9000\(path)" }
    /// The admin token `zonal up` generated in the state directory, as an `Authorization` header.
    var adminHeaders: [(String, String)] {
        get throws {
            [
                (
                    "Authorization",
                    "Bearer "
                        + (try String(contentsOfFile: directory.file("state/admin-token"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
                )
            ]
        }
    }

    func adminCall(_ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: admin(path))
        request.method = method
        for (name, value) in try adminHeaders { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await balancerClient.execute(request, timeout: .seconds(5))
        return (Int(response.status.code), Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView))
    }

    func zonal(_ arguments: String...) async throws -> String {
        let (code, output) = try await ZonalBinary.run(arguments + ["-f", file], directory: directory)
        guard code == 0 else { throw FixtureError("zonal \(arguments.joined(separator: " ")) failed: \(output)") }
        return output
    }

    func stop() async {
        up.signal(SIGTERM)
        _ = await up.waitForExit(timeout: .seconds(15))
        up.signal(SIGKILL)
        _ = await poll(timeout: .seconds(5)) { processesMentioning(marker).isEmpty }
        directory.remove()
    }
}

/// What answered one request: status, node and zone (from the app's JSON), headers, body size.
struct Reply {
    var status: Int
    var node: String
    var zone: String
    var headers: HTTPHeaders
    var bytes: Int
}

func get(_ url: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: String? = nil) async throws -> Reply {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await balancerClient.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 1 << 30)
    let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any]
    return Reply(
        status: Int(response.status.code), node: json?["node"] as? String ?? "", zone: json?["zone"] as? String ?? "",
        headers: response.headers, bytes: bytes.readableBytes)
}

/// A bounded load: `workers` clients sending requests one after another until told to stop,
/// at most `limit` requests each and never past `deadline`. Counts answers per zone and keeps
/// every failure a client saw.
final class Load: Sendable {
    private struct Tally {
        var byZone: [String: Int] = [:]
        var failures: [String] = []
        var lastZone = ""
    }

    private final class Shared: Sendable {
        let tally = Mutex(Tally())
        let stopped = Atomic<Bool>(false)
    }

    private let shared = Shared()
    private let task: Task<Void, Never>

    init(url: String, workers: Int = 4, limit: Int = 20_000, deadline: Duration = .seconds(60)) {
        let end = ContinuousClock.now + deadline
        let shared = self.shared
        task = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<workers {
                    group.addTask {
                        var sent = 0
                        while !shared.stopped.load(ordering: .relaxed) && sent < limit && ContinuousClock.now < end {
                            sent += 1
                            do {
                                let reply = try await get(url)
                                shared.tally.withLock { tally in
                                    if reply.status == 200 {
                                        tally.byZone[reply.zone, default: 0] += 1
                                        tally.lastZone = reply.zone
                                    } else {
                                        tally.failures.append("status \(reply.status)")
                                    }
                                }
                            } catch {
                                shared.tally.withLock { $0.failures.append("\(error)") }
                            }
                        }
                    }
                }
            }
        }
    }

    var lastZone: String { shared.tally.withLock { $0.lastZone } }
    var byZone: [String: Int] { shared.tally.withLock { $0.byZone } }
    var failures: [String] { shared.tally.withLock { $0.failures } }

    func stop() async {
        shared.stopped.store(true, ordering: .relaxed)
        await task.value
    }
}

@Suite("Balancer end to end", .serialized)
struct BalancerEndToEndTests {
    @Test("kill -9 of a server, then of the primary zone, under load: no failed request, failover and failback")
    func failuresUnderLoad() async throws {
        let env = try await BalancerTopology.start()
        defer { Task { await env.stop() } }
        let load = Load(url: env.url("/"))
        try await Task.sleep(for: .seconds(1))
        #expect(load.byZone.keys.sorted() == ["east-a"], "\(load.byZone)")

        _ = try await env.zonal("fail", "node", "a1")
        try await Task.sleep(for: .seconds(1))
        #expect(load.lastZone == "east-a", "one dead server of two is not a zone failure")

        _ = try await env.zonal("fail", "zone", "east-a")
        let failedOver = await poll(timeout: .seconds(5)) { load.lastZone == "east-b" }
        #expect(failedOver != nil, "traffic never moved to east-b: \(load.byZone)")

        _ = try await env.zonal("recover", "zone", "east-a")
        let failedBack = await poll(timeout: .seconds(20)) { load.lastZone == "east-a" }
        #expect(failedBack != nil, "traffic never came back to east-a: \(load.byZone)")
        await load.stop()

        #expect(load.failures.isEmpty, "clients saw failures: \(load.failures.prefix(5)) (\(load.failures.count) in all)")
        #expect((load.byZone["east-a"] ?? 0) > 0 && (load.byZone["east-b"] ?? 0) > 0, "both zones answered: \(load.byZone)")
        #expect(try await get(env.admin("/pools")).status == 401, "the admin API wants the token")
        #expect(try await env.adminCall("/pools").status == 200)
        let switches = try await poolSwitches(env)
        #expect(switches.contains { $0.contains("primary -> secondary") && $0.contains("no healthy server") }, "\(switches)")
        #expect(switches.contains { $0.contains("secondary -> primary") && $0.contains("healthy for") }, "\(switches)")
    }

    @Test("a cookie keeps a client on its server across balancer instances; drain and reload keep downloads whole")
    func operations() async throws {
        let env = try await BalancerTopology.start()
        defer { Task { await env.stop() } }

        // Persistence across the two balancer instances.
        let first = try await get(env.url("/", via: "c1"))
        let cookie = try #require(first.headers.first(name: "set-cookie")).prefix { $0 != ";" }
        for node in ["c2", "c1", "c2", "c2"] {
            let reply = try await get(env.url("/", via: node), headers: [("Cookie", String(cookie))])
            #expect(reply.node == first.node, "cookie \(cookie) sent to \(node) reached \(reply.node), not \(first.node)")
        }
        // Forged cookies (a time far in the past, negative, beyond 64 bits, not base 36) are no
        // cookie at all: the request is balanced as new, and the balancer keeps serving.
        for forged in ["a.-1y2p0ij32e8e7", "a.1y2p0ij32e8e7", "a.zzzzzzzzzzzzzzzzzzzz", "a.", ".", "a.-0", "a.!!"] {
            let reply = try await get(env.url("/", via: "c1"), headers: [("Cookie", "ZONALSRV=\(forged)")])
            #expect(reply.status == 200, "cookie \(forged) answered \(reply.status)")
        }
        #expect(try await get(env.url("/", via: "c1")).status == 200, "the balancer survived the forged cookies")

        // Drain a server mid-download: the download finishes whole, new requests avoid it.
        let size = 3 << 20
        let downloads = (0..<2).map { _ in Task { try await get(env.url("/download?bytes=\(size)&rate=2000000")) } }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await get(env.admin("/pools/web/servers/web-\(env.marker)@a1/weight"), method: .PUT, body: #"{"weight": 0}"#).status == 401)
        #expect(try await env.adminCall("/pools/web/servers/web-\(env.marker)@a1/weight", method: .PUT, body: #"{"weight": 0}"#).status == 200)
        for _ in 0..<8 { #expect(try await get(env.url("/")).node == "a2") }

        // Reload (SIGHUP) during those downloads: they finish whole, and the new settings apply.
        let balancerPid = try #require(processesMentioning("--node c1").first { processesMentioning(env.marker).contains($0) })
        _ = try env.directory.write("topology.yaml", BalancerTopology.yaml(marker: env.marker, directory: env.directory.path, scheduling: "least_connections"))
        kill(balancerPid, SIGHUP)
        for download in downloads {
            let reply = try await download.value
            #expect(reply.status == 200 && reply.bytes == size, "a download was cut: \(reply.bytes) of \(size) bytes")
        }
        let reloaded = await poll(timeout: .seconds(5)) { (try? await poolField(env, "scheduling")) == "least_connections" }
        #expect(reloaded != nil, "the reload did not apply the new scheduling")
        #expect(processExists(balancerPid), "the balancer restarted instead of reloading")
    }

    func poolSwitches(_ env: BalancerTopology) async throws -> [String] {
        let json = try #require(try JSONSerialization.jsonObject(with: try await env.adminCall("/pools/web").body) as? [String: Any])
        let switches = json["zoneSwitches"] as? [[String: Any]] ?? []
        return switches.map { "\($0["from"] ?? "") -> \($0["to"] ?? ""): \($0["cause"] ?? "")" }
    }

    func poolField(_ env: BalancerTopology, _ field: String) async throws -> String? {
        (try JSONSerialization.jsonObject(with: try await env.adminCall("/pools/web").body) as? [String: Any])?[field] as? String
    }
}
