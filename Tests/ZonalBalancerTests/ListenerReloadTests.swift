import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

@Suite("Listeners changed by a reload")
struct ListenerReloadTests {
    /// A topology with one balancer node at `address`; `listeners` and `pools` are its YAML lines.
    static func yaml(address: String, port: Int = 8000, drain: String = "30s", listeners: String, pools: String) -> String {
        """
        name: reload
        regions: [{ name: east, zones: [z] }]
        nodes: [{ name: n1, zone: z, address: \(address) }]
        services:
          - name: lb
            kind: balancer
            nodes: [n1]
            port: \(port)
            balancer:
              connections: { drain_timeout: \(drain) }
              listeners:
        \(listeners)
              pools:
        \(pools)
        """
    }

    @Test("a reload adds a listener with a new pool, replaces a changed one and removes one, while a request on it finishes")
    func addReplaceRemove() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-reload")
        defer { directory.remove() }
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let address = LoopbackAddress.random()
        let poolA = "        - { name: pa, servers: [{ address: \(a.host), port: \(a.port), zone: z }] }"
        let poolB = "        - { name: pb, servers: [{ address: \(b.host), port: \(b.port), zone: z }] }"
        let first = Self.yaml(address: address, listeners: "        - { name: web, port: 8000, pool: pa }", pools: poolA)
        let running = try RunningBalancer(topology: first)
        let balancer = running.balancer
        let web = "http://\(address):8000"
        #expect(await poll(timeout: .seconds(10)) { (try? await curl([web + "/name"], in: directory))?.status == 200 } != nil)

        // A request through `web` whose answer takes two seconds, across both reloads.
        let downloading = Mutex(true)
        let download = Task {
            defer { downloading.withLock { $0 = false } }
            return try await curl([web + "/slow?ms=2000"], in: directory)
        }
        try await Task.sleep(for: .milliseconds(300))

        running.rewrite(
            Self.yaml(
                address: address,
                listeners: "        - { name: web, port: 8000, pool: pa }\n        - { name: api, port: 8001, mode: tcp, pool: pb }",
                pools: poolA + "\n" + poolB))
        let added = try await balancer.reload()
        #expect(added.reconfigured.contains("new pool pb") && added.reconfigured.contains("new listener api"), "\(added)")
        #expect(added.notApplied.isEmpty, "\(added)")
        let viaAPI = try await curl(["http://\(address):8001/name"], in: directory)
        #expect(viaAPI.status == 200 && viaAPI.headers["x-server"] == "b", "\(viaAPI)")

        running.rewrite(
            Self.yaml(address: address, port: 8001, listeners: "        - { name: api, port: 8001, pool: pb }", pools: poolA + "\n" + poolB))
        let removed = try await balancer.reload()
        #expect(downloading.withLock { $0 }, "the request is still under way when its listener goes")
        #expect(removed.reconfigured.contains("removed listener web") && removed.reconfigured.contains("listener api"), "\(removed)")
        let refused = try await curl(["--connect-timeout", "2", web + "/name"], in: directory)
        #expect(refused.status == 0, "the removed listener no longer accepts: \(refused)")
        let replaced = try await curl(["http://\(address):8001/name"], in: directory)
        #expect(replaced.version == "HTTP/1.1" && replaced.status == 200 && replaced.headers["x-saw-forwarded-for"] != nil, "api is http now: \(replaced)")

        let finished = try await download.value
        #expect(finished.status == 200 && finished.headers["x-server"] == "a", "the request on the removed listener finished: \(finished)")

        try await running.stop()
        try await a.stop()
        try await b.stop()
    }

    @Test("a connection of a removed listener still open when the drain timeout ends is closed")
    func drainDeadline() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-reload-drain")
        defer { directory.remove() }
        let a = try await startHTTPServer(name: "a")
        let address = LoopbackAddress.random()
        let pool = "        - { name: pa, servers: [{ address: \(a.host), port: \(a.port), zone: z }] }"
        let first = Self.yaml(
            address: address, drain: "1s", listeners: "        - { name: web, port: 8000, pool: pa }\n        - { name: other, port: 8001, pool: pa }",
            pools: pool)
        let running = try RunningBalancer(topology: first)
        let balancer = running.balancer
        #expect(await poll(timeout: .seconds(10)) { (try? await curl(["http://\(address):8001/name"], in: directory))?.status == 200 } != nil)
        let slow = Task { try await curl(["http://\(address):8001/slow?ms=4000"], in: directory) }
        try await Task.sleep(for: .milliseconds(300))
        running.rewrite(Self.yaml(address: address, drain: "1s", listeners: "        - { name: web, port: 8000, pool: pa }", pools: pool))
        let started = ContinuousClock.now
        _ = try await balancer.reload()
        let cut = try await slow.value
        #expect(cut.status == 0 && ContinuousClock.now - started < .seconds(3), "cut after the drain timeout, not answered: \(cut)")
        try await running.stop()
        try await a.stop()
    }

    @Test("a listener that cannot bind on reload is reported and the others keep serving")
    func bindFailure() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-reload-fail")
        defer { directory.remove() }
        let a = try await startHTTPServer(name: "a")
        let address = LoopbackAddress.random()
        let pool = "        - { name: pa, servers: [{ address: \(a.host), port: \(a.port), zone: z }] }"
        let first = Self.yaml(address: address, listeners: "        - { name: web, port: 8000, pool: pa }", pools: pool)
        let running = try RunningBalancer(topology: first)
        let balancer = running.balancer
        #expect(await poll(timeout: .seconds(10)) { (try? await curl(["http://\(address):8000/name"], in: directory))?.status == 200 } != nil)

        // Another socket holds a port on the balancer's address: a listener cannot take it.
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: address, port: 0).get()
        let held = try #require(holder.localAddress?.port)
        running.rewrite(
            Self.yaml(
                address: address,
                listeners: "        - { name: web, port: 8000, pool: pa }\n        - { name: taken, port: \(held), pool: pa }",
                pools: pool))
        let report = try await balancer.reload()
        #expect(report.notApplied.contains { $0.hasPrefix("listener taken: cannot listen on \(address):\(held)") }, "\(report)")
        let served = try await curl(["http://\(address):8000/name"], in: directory)
        #expect(served.status == 200, "the listener that stays serves on")
        try await holder.close()
        try await running.stop()
        try await a.stop()
    }
}

/// A balancer run from a topology text that a test rewrites before each reload.
final class RunningBalancer: Sendable {
    let balancer: Balancer
    private let topology: TopologyText
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(topology: String) throws {
        let current = TopologyText(topology)
        let plan = try BalancerPlan(topology: try TopologyLoader.parse(topology), service: "lb", node: "n1")
        balancer = try Balancer(plan: plan, coordinator: nil, logger: Logger(label: "test.reload")) {
            try BalancerPlan(topology: try TopologyLoader.parse(current.text.withLock { $0 }), service: "lb", node: "n1")
        }
        self.topology = current
        let group = ServiceGroup(configuration: .init(services: balancer.services(), logger: Logger(label: "test.reload")))
        self.group = group
        task = Task { try await group.run() }
    }

    /// What the next reload reads.
    func rewrite(_ text: String) {
        topology.text.withLock { $0 = text }
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// The topology text a reload reads, shared with the reload closure.
final class TopologyText: Sendable {
    let text: Mutex<String>
    init(_ text: String) { self.text = Mutex(text) }
}
