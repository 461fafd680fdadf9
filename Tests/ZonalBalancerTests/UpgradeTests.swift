import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

/// A WebSocket echo server and client from Python's `websockets` (Debian's python3-websockets):
/// the server greets each client with the `X-Forwarded-For` it saw, then echoes every message.
struct WebSocketPeers {
    let directory: TemporaryDirectory
    let server: ProcessFixture
    let host: String
    let port: Int

    static let serverScript = """
        import asyncio, sys, websockets
        async def echo(ws, path=None):
            await ws.send("forwarded-for " + ws.request_headers.get("X-Forwarded-For", "none"))
            async for message in ws:
                await ws.send(message)
        async def main():
            async with websockets.serve(echo, sys.argv[1], 0, max_size=None) as server:
                with open(sys.argv[2] + ".tmp", "w") as f:
                    f.write(str(server.sockets[0].getsockname()[1]))
                import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
                await asyncio.Future()
        asyncio.run(main())
        """

    static func start() async throws -> WebSocketPeers {
        let directory = try TemporaryDirectory(prefix: "zonal-websocket")
        let host = LoopbackAddress.random()
        let script = try directory.write("server.py", serverScript)
        let portFile = directory.file("port")
        let server = try ProcessFixture(executable: "/usr/bin/python3", arguments: [script, host, portFile], outputPath: directory.file("server.out"))
        guard await poll(timeout: .seconds(20), until: { FileManager.default.fileExists(atPath: portFile) }) != nil,
            let port = Int((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "")
        else {
            throw FixtureError("the WebSocket server did not start: \(server.output)")
        }
        return WebSocketPeers(directory: directory, server: server, host: host, port: port)
    }

    /// Runs a client script against `url`; its exit status and output.
    func client(_ body: String, url: String) async throws -> (status: Int32?, output: String) {
        let script = """
            import asyncio, sys, websockets
            async def main(url):
            \(body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
            asyncio.run(main(sys.argv[1]))
            """
        let path = try directory.write("client-\(UUID().uuidString.prefix(8)).py", script)
        let fixture = try ProcessFixture(executable: "/usr/bin/python3", arguments: [path, url], outputPath: path + ".out")
        let status = await fixture.waitForExit(timeout: .seconds(60))
        fixture.signal(SIGKILL)
        return (status, fixture.output)
    }

    func stop() async {
        await server.stop()
        directory.remove()
    }
}

@Suite("Upgrade and WebSocket through the HTTP listener")
struct UpgradeTests {
    @Test("a WebSocket is relayed both ways after the 101, frames of any size, the server's first frame included")
    func webSocketEcho() async throws {
        let peers = try await WebSocketPeers.start()
        let pool = BackendPool(plan: PoolPlan(name: "ws", backends: [Backend(id: "ws", host: peers.host, port: peers.port, zone: "z")]))
        let proxy = try await startHTTPProxy(pool)
        let result = try await peers.client(
            """
            async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
                print(await ws.recv())
                for size in (1, 1000, 70000, 3000000):
                    message = "m" * size
                    await ws.send(message)
                    assert await ws.recv() == message, size
                await ws.send(bytes(range(256)))
                assert await ws.recv() == bytes(range(256))
                print("echoed")
            """, url: "ws://\(proxy.host):\(proxy.port)/chat")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("forwarded-for 127."), "\(result.output)")
        #expect(result.output.contains("echoed"), "\(result.output)")
        let released = await poll(timeout: .seconds(5)) { pool.snapshot().servers.first?.active == 0 }
        #expect(released != nil, "the closed tunnel no longer counts as in flight")
        try await proxy.stop()
        await peers.stop()
    }

    @Test("an upgraded connection with no byte either way for the tunnel timeout is closed")
    func tunnelIdleTimeout() async throws {
        let peers = try await WebSocketPeers.start()
        let pool = BackendPool(plan: PoolPlan(name: "ws", backends: [Backend(id: "ws", host: peers.host, port: peers.port, zone: "z")]))
        var settings = HTTPSpec()
        settings.tunnelTimeout = .seconds(1)
        let proxy = try await startHTTPProxy(pool, settings: settings)
        let result = try await peers.client(
            """
            async with websockets.connect(url, ping_interval=None) as ws:
                await ws.recv()
                await ws.send("before")
                assert await ws.recv() == "before"
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                    print("still open")
                except websockets.ConnectionClosed:
                    print("closed by the proxy")
            """, url: "ws://\(proxy.host):\(proxy.port)/")
        #expect(result.output.contains("closed by the proxy"), "\(result.output)")
        try await proxy.stop()
        await peers.stop()
    }

    @Test("a server that refuses the switch answers normally, and the client connection then closes")
    func refusedUpgrade() async throws {
        let server = try await startHTTPServer(name: "plain")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("plain", server)]))
        let proxy = try await startHTTPProxy(pool)
        let answer = try await rawExchange(
            host: proxy.host, port: proxy.port,
            "GET /name HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /name HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer)")
        #expect(answer.lowercased().contains("connection: close"), "\(answer)")
        #expect(answer.components(separatedBy: "HTTP/1.1 200").count == 2, "the request behind a refused switch is not read: \(answer)")
        try await proxy.stop()
        try await server.stop()
    }
}
