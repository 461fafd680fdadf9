import NIOCore
import NIOPosix
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalHealth

/// The real probes against real sockets and processes.
@Suite("Probes")
struct ProbeTests {
    @Test("TCP probe: a listening port is healthy, a closed one fails at once with the reason")
    func tcp() async throws {
        let host = LoopbackAddress.random()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.close() }
            .bind(host: host, port: 0).get()
        let port = try #require(server.localAddress?.port)
        let up = await TCPProbe(host: host, port: port, timeout: .seconds(2)).check()
        #expect(up.isSuccess, "\(up)")
        try await server.close()
        let down = await TCPProbe(host: host, port: port, timeout: .seconds(2)).check()
        guard case .failure(let reason) = down else {
            Issue.record("closed port reported healthy")
            return
        }
        #expect(reason.contains("connect to \(host):\(port)"))
        #expect(reason.lowercased().contains("refused"), "\(reason)")
    }

    @Test("command probe: exit 0 is healthy; otherwise the status and stderr explain")
    func command() async {
        #expect(await CommandProbe(command: ["/bin/true"]).check().isSuccess)
        let failed = await CommandProbe(command: ["/bin/sh", "-c", "echo disk full >&2; exit 3"]).check()
        #expect(failed == .failure(reason: "/bin/sh exited 3: disk full"))
        let missing = await CommandProbe(command: ["/nonexistent/probe"]).check()
        guard case .failure(let reason) = missing else {
            Issue.record("a missing program reported healthy")
            return
        }
        #expect(reason.contains("cannot run /nonexistent/probe"))
    }

    @Test("command probe: a program found through PATH runs")
    func commandFromPath() async {
        #expect(await CommandProbe(command: ["true"]).check().isSuccess)
    }

    @Test("health specs aim probes at the instance's address and port")
    func specMakesProbe() throws {
        let topology = try TopologyLoader.parse(
            """
            name: t
            regions: [{ name: r, zones: [z] }]
            nodes: [{ name: n, zone: z, address: 127.0.0.9 }]
            services:
              - name: s
                kind: app
                nodes: [n]
                port: 8000
                admin_port: 9000
                health: { http: { path: /ready, port: 9000, status: 204, body_contains: yes } }
            """)
        let probe = try #require(topology.services[0].health.makeProbe(for: topology.instances[0]) as? HTTPProbe)
        #expect(probe.url == "http://127.0.0.9:9000/ready")
        #expect(probe.expectedStatus == 204 && probe.bodyContains == "yes")
    }
}
