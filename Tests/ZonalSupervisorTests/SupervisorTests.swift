import Foundation
import Logging
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalSupervisor

/// The supervisor with real child processes: crashes, operator failures, shutdown, orphans.
@Suite("Supervisor with real processes")
struct SupervisorTests {
    /// A two-zone topology whose service is a small Python HTTP server, probed over TCP.
    /// The command also starts a background `sleep` whose PID it writes down, to check that
    /// killing a process group leaves nothing behind.
    static func topology(address a: String, address b: String, directory: TemporaryDirectory) throws -> Topology {
        try TopologyLoader.parse(
            """
            name: supervised
            supervisor:
              control_host: \(a)
              control_port: 7300
              restart: { initial_backoff: 100ms, max_backoff: 1s, stable_after: 10s }
            regions: [{ name: r, zones: [za, zb] }]
            nodes:
              - { name: na, zone: za, address: \(a) }
              - { name: nb, zone: zb, address: \(b) }
            services:
              - name: http
                kind: process
                command: [/bin/sh, -c, "sleep 300 & echo $! > \(directory.path)/{node}.grandchild; exec python3 -m http.server {port} --bind {address}"]
                zones: [za, zb]
                port: 8000
                health: { tcp: {}, interval: 200ms, timeout: 200ms, rise: 1, fall: 1 }
            """)
    }

    static func supervisor(_ topology: Topology, directory: TemporaryDirectory) -> Supervisor {
        let logger = Logger(label: "test.supervisor")
        try? FileManager.default.createDirectory(atPath: directory.file("logs"), withIntermediateDirectories: true)
        return Supervisor(
            topology: topology,
            launcher: InstanceLauncher(zonalExecutable: "/nonexistent", stateDirectory: directory.path),
            events: EventLog(path: directory.file("events.jsonl"), logger: logger), logger: logger)
    }

    func instance(_ supervisor: Supervisor, _ id: String) async -> InstanceStatus? {
        await supervisor.status().instances.first { $0.id == id }
    }

    @Test("a crashed process is restarted with a new PID; fail and recover a zone; shutdown leaves no process behind")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let supervisor = Self.supervisor(
            try Self.topology(address: LoopbackAddress.random(), address: LoopbackAddress.random(), directory: directory), directory: directory)
        await supervisor.start()
        #expect(await supervisor.waitUntilAllHealthy(timeout: .seconds(20)))

        // Crash: kill -9 the process itself, as a bug would. The supervisor restarts it.
        let first = try #require(await instance(supervisor, "http@na")?.pid)
        kill(first, SIGKILL)
        let restarted = await poll(timeout: .seconds(10)) {
            guard let now = await instance(supervisor, "http@na") else { return false }
            return now.pid != nil && now.pid != first && now.restarts == 1 && now.process == "running"
        }
        let afterCrash = await instance(supervisor, "http@na")
        #expect(restarted != nil, "not restarted: \(String(describing: afterCrash))")
        #expect(supervisor.events.all.contains { $0.kind == .processExited && $0.subject == "http@na" && $0.message.contains("restarting in 100ms") })

        // Losing a zone: its process group is killed, grandchildren too, and it stays down.
        #expect(await supervisor.waitUntilAllHealthy(timeout: .seconds(20)))
        let victim = try #require(await instance(supervisor, "http@nb")?.pid)
        let grandchild = try #require(
            Int32(String(contentsOfFile: directory.file("nb.grandchild"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let result = try await supervisor.fail(.zone, named: "zb")
        #expect(result.instances.keys.sorted() == ["http@nb"])
        #expect(await poll(timeout: .seconds(5)) { !processExists(victim) && !processExists(grandchild) } != nil)
        let down = await poll(timeout: .seconds(5)) { await instance(supervisor, "http@nb")?.health == "unhealthy" }
        #expect(down != nil)
        #expect(await instance(supervisor, "http@nb")?.process == "failed")
        #expect(await instance(supervisor, "http@na")?.health == "healthy")

        _ = try await supervisor.recover(.zone, named: "zb")
        #expect(await supervisor.waitUntilAllHealthy(timeout: .seconds(20)))
        #expect(supervisor.events.all.map(\.kind).contains(.zoneRecovered))

        // Shutdown: every process group is gone when it returns.
        let pids = await supervisor.status().instances.compactMap(\.pid)
        let grandchildren = try ["na", "nb"].map { try String(contentsOfFile: directory.file("\($0).grandchild"), encoding: .utf8) }
            .compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        await supervisor.shutdown(grace: .seconds(3))
        // Orphaned grandchildren are reaped by init, a moment after they die.
        let gone = await poll(timeout: .seconds(2)) { (pids + grandchildren).allSatisfy { !processExists($0) } }
        #expect(gone != nil, "processes outlived shutdown: \((pids + grandchildren).filter(processExists))")
        #expect(await supervisor.status().instances.allSatisfy { $0.process == "stopped" && $0.pid == nil })
    }

    @Test("unknown zones and nodes are refused with the known names")
    func unknownNames() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let supervisor = Self.supervisor(
            try Self.topology(address: LoopbackAddress.random(), address: LoopbackAddress.random(), directory: directory), directory: directory)
        await #expect(throws: SupervisorError.self) { try await supervisor.fail(.zone, named: "zz") }
        do {
            _ = try await supervisor.fail(.node, named: "nx")
        } catch {
            #expect(error.description == "no node named nx in this topology; known: na, nb")
        }
    }

    @Test("a program that cannot start is retried with backoff and the reason is kept")
    func cannotStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let address = LoopbackAddress.random()
        let topology = try TopologyLoader.parse(
            """
            name: broken
            supervisor: { control_host: \(address), restart: { initial_backoff: 50ms, max_backoff: 200ms } }
            regions: [{ name: r, zones: [z] }]
            nodes: [{ name: n, zone: z, address: \(address) }]
            services:
              - { name: ghost, kind: process, command: [/nonexistent/ghost-server], nodes: [n], port: 8000 }
            """)
        let supervisor = Self.supervisor(topology, directory: directory)
        await supervisor.start()
        let retried = await poll(timeout: .seconds(10)) { await instance(supervisor, "ghost@n")?.restarts ?? 0 >= 3 }
        #expect(retried != nil)
        #expect(supervisor.events.all.contains { $0.kind == .processExited && $0.message.contains("cannot start /nonexistent/ghost-server") })
        await supervisor.shutdown()
    }

    @Test("the status table shows every instance with its health")
    func statusTable() {
        let coordinator = CoordinatorHealth(
            backend: "embedded", endpoints: ["http://127.0.0.1:7379"], healthy: true, leader: "http://127.0.0.1:7379", revision: 12)
        let report = StatusReport(
            topology: "t", coordinator: coordinator, control: "127.0.0.1:7300", startedAt: Date(),
            instances: [
                InstanceStatus(
                    id: "web@a1", service: "web", kind: "app", region: "east", zone: "east-a", node: "a1", role: "primary-zone",
                    health: "healthy", process: "running", pid: 42, restarts: 0, address: "127.0.1.1:8080"),
                InstanceStatus(
                    id: "web@b1", service: "web", kind: "app", region: "east", zone: "east-b", node: "b1", role: "secondary-zone",
                    health: "unhealthy", process: "failed", restarts: 2, address: "127.0.2.1:8080"),
            ])
        let plain = StatusTable(colored: false).render(report)
        #expect(
            plain == """
                topology t: 1/2 healthy, control 127.0.0.1:7300
                coordinator: embedded coordinator healthy, leader http://127.0.0.1:7379, revision 12 at http://127.0.0.1:7379
                REGION  ZONE    NODE  SERVICE  ROLE            HEALTH     PROCESS           ADDRESS
                east    east-a  a1    web      primary-zone    healthy    running (pid 42)  127.0.1.1:8080
                east    east-b  b1    web      secondary-zone  unhealthy  failed            127.0.2.1:8080
                """)
        let colored = StatusTable(colored: true).render(report)
        #expect(colored.contains("\u{1B}[32mhealthy  \u{1B}[0m"))
        #expect(colored.contains("\u{1B}[31munhealthy\u{1B}[0m"))
    }
}
