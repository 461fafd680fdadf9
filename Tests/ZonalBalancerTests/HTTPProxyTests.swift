import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

/// A GET through the proxy: status, the answering server's name, the body and headers.
struct Answer {
    var status: Int
    var server: String?
    var body: String
    var headers: [String: String]
}

extension HTTPClient {
    func send(_ url: String, method: HTTPMethod = .GET, body: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Answer(
            status: Int(response.status.code), server: response.headers.first(name: "x-server"), body: String(buffer: bytes),
            headers: Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first }))
    }
}

/// One client for every proxy test; it lives as long as the test process.
let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

func backend(_ id: String, _ server: RunningListener, zone: String = "z", weight: Int = 1) -> Backend {
    Backend(id: id, host: server.host, port: server.port, zone: zone, weight: weight)
}

@Suite("Layer-7 proxy")
struct HTTPProxyTests {
    @Test("spreads requests over kept-alive connections and tells servers who the client is")
    func roundRobin() async throws {
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a), backend("b", b, weight: 2)]))
        let proxy = try await startHTTPProxy(pool)
        var counts: [String: Int] = [:]
        for _ in 0..<30 {
            let answer = try await client.send("http://\(proxy.host):\(proxy.port)/name")
            #expect(answer.status == 200)
            counts[answer.server ?? "?", default: 0] += 1
            #expect(answer.headers["x-saw-forwarded-for"]?.hasPrefix("127.") == true, "\(answer.headers)")
            #expect(answer.headers["x-saw-forwarded"]?.hasPrefix("for=127.") == true, "\(answer.headers)")
        }
        #expect(counts == ["a": 10, "b": 20])
        try await proxy.stop()
        try await a.stop()
        try await b.stop()
    }

    @Test("pipelined requests are answered in order, bodies included, and a malformed one behind them gets 400 after their answers")
    func pipelining() async throws {
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        let proxy = try await startHTTPProxy(pool)
        var requests = ""
        for n in 1...20 { requests += "GET /bytes?n=\(n) HTTP/1.1\r\nHost: x\r\n\r\n" }
        requests += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        requests += "GET /bytes?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let answers = try await rawExchange(host: proxy.host, port: proxy.port, requests)
        let lengths = answers.components(separatedBy: "\r\n").compactMap { line -> Int? in
            line.lowercased().hasPrefix("content-length: ") ? Int(line.dropFirst(16)) : nil
        }
        // The echo streams its answer chunked: it has no Content-Length.
        #expect(lengths == Array(1...20) + [2], "\(answers.prefix(300))")
        #expect(answers.contains("hello\r\n"), "\(answers.suffix(300))")

        let broken = try await rawExchange(
            host: proxy.host, port: proxy.port, "GET /bytes?n=4 HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        #expect(broken.hasPrefix("HTTP/1.1 200") && broken.contains("zzzz") && broken.contains("HTTP/1.1 400"), "\(broken)")
        #expect(broken.range(of: "HTTP/1.1 200")!.lowerBound < broken.range(of: "HTTP/1.1 400")!.lowerBound)
        try await proxy.stop()
        try await a.stop()
    }

    @Test("streams large bodies both ways, and HTTP/1.0 and pipelined requests work", arguments: [0, 1, 300_000, 5_000_000])
    func bodies(size: Int) async throws {
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        let proxy = try await startHTTPProxy(pool)
        let payload = String(repeating: "0123456789abcdef", count: size / 16 + 1).prefix(size)
        let echoed = try await client.send("http://\(proxy.host):\(proxy.port)/echo", method: .POST, body: String(payload))
        #expect(echoed.status == 200 && echoed.body.count == size && echoed.body == payload)
        let download = try await client.send("http://\(proxy.host):\(proxy.port)/bytes?n=\(size)")
        #expect(download.body.utf8.count == size)
        let pipelined = try await rawExchange(
            host: proxy.host, port: proxy.port,
            "GET /name HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(pipelined.components(separatedBy: "HTTP/1.1 200").count == 3 && pipelined.hasSuffix("zzz"), "\(pipelined)")
        let old = try await rawExchange(host: proxy.host, port: proxy.port, "GET /bytes?n=5 HTTP/1.0\r\n\r\n")
        #expect(old.hasPrefix("HTTP/1.0 200") && old.hasSuffix("zzzzz"), "\(old)")
        try await proxy.stop()
        try await a.stop()
    }

    @Test("bad input gets a specific answer: 400, 431, 413, 408 for slow headers, 503 with no server")
    func badInput() async throws {
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        let settings = HTTPSpec(limits: .init(maxHeaderBytes: 2048, maxBodyBytes: 1000), headerTimeout: .milliseconds(300))
        let proxy = try await startHTTPProxy(pool, settings: settings)
        let garbage = try await rawExchange(host: proxy.host, port: proxy.port, "HELLO THERE\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
        let huge = try await rawExchange(
            host: proxy.host, port: proxy.port, "GET /name HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 4000))\r\n\r\n")
        #expect(huge.hasPrefix("HTTP/1.1 431"), "\(huge)")
        let tooLong = try await rawExchange(host: proxy.host, port: proxy.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        #expect(tooLong.hasPrefix("HTTP/1.1 413"), "\(tooLong)")
        let smuggled = try await rawExchange(
            host: proxy.host, port: proxy.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
        #expect(smuggled.hasPrefix("HTTP/1.1 400"), "\(smuggled)")
        // A slow client: half a head, then nothing. The proxy answers 408 and closes by itself.
        let slow = try await rawExchange(host: proxy.host, port: proxy.port, "GET /name HTTP/1.1\r\nHost: x\r\n")
        #expect(slow.hasPrefix("HTTP/1.1 408"), "\(slow)")
        pool.setHealth("a", .unhealthy)
        let none = try await rawExchange(host: proxy.host, port: proxy.port, "GET /name HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(none.hasPrefix("HTTP/1.1 503") && none.contains("no server is available"), "\(none)")
        try await proxy.stop()
        try await a.stop()
    }

    @Test("a refused or hung-up server costs nothing for idempotent requests; a POST already sent is not replayed")
    func retries() async throws {
        let good = try await startHTTPServer(name: "good")
        let refusing = try await startHTTPServer(name: "refusing")
        try await refusing.stop()
        let hangUp = try await startHangUpServer()
        let pool = BackendPool(
            plan: PoolPlan(
                name: "p",
                backends: [
                    Backend(id: "refusing", host: refusing.host, port: refusing.port, zone: "z"),
                    Backend(id: "hangup", host: hangUp.host, port: hangUp.port, zone: "z"),
                    backend("good", good),
                ], retries: 2, outliers: .init(consecutiveFailures: 1000)))
        let proxy = try await startHTTPProxy(pool)
        for _ in 0..<12 {
            let answer = try await client.send("http://\(proxy.host):\(proxy.port)/name")
            #expect(answer.status == 200 && answer.server == "good")
        }
        var statuses: [Int: Int] = [:]
        for _ in 0..<12 {
            statuses[try await client.send("http://\(proxy.host):\(proxy.port)/echo", method: .POST, body: "once").status, default: 0] += 1
        }
        // POSTs sent to the hang-up server fail with 502; those refused before sending are retried.
        #expect(statuses[200, default: 0] >= 4 && statuses[502, default: 0] >= 1 && statuses.keys.allSatisfy { [200, 502].contains($0) }, "\(statuses)")
        try await proxy.stop()
        try await good.stop()
        try await hangUp.channel.close()
    }

    @Test("an inserted cookie keeps a client on its server, on any balancer instance, until the server fails")
    func stickyCookie() async throws {
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let configuration = PoolPlan(name: "p", backends: [backend("a", a), backend("b", b)], persistence: .cookie(.init()))
        let first = BackendPool(plan: configuration)
        let second = BackendPool(plan: configuration)
        let proxy1 = try await startHTTPProxy(first)
        let proxy2 = try await startHTTPProxy(second)
        let initial = try await client.send("http://\(proxy1.host):\(proxy1.port)/name")
        let setCookie = try #require(initial.headers["set-cookie"])
        #expect(setCookie.hasPrefix("ZONALSRV=") && setCookie.contains("Max-Age=1000"))
        let cookie = String(setCookie.prefix { $0 != ";" })
        for proxy in [proxy1, proxy2, proxy1, proxy2, proxy2] {
            let answer = try await client.send("http://\(proxy.host):\(proxy.port)/name", headers: [("Cookie", "other=1; \(cookie)")])
            #expect(answer.server == initial.server)
            #expect(answer.headers["set-cookie"] == nil, "a fresh cookie is not issued again")
        }
        let stuck = try #require(initial.server)
        second.setHealth(stuck, .unhealthy)
        let moved = try await client.send("http://\(proxy2.host):\(proxy2.port)/name", headers: [("Cookie", cookie)])
        #expect(moved.server != stuck && moved.headers["set-cookie"] != nil)
        try await proxy1.stop()
        try await proxy2.stop()
        try await a.stop()
        try await b.stop()
    }

    @Test("an application's session cookie sends one session to one server on every instance; sessions spread")
    func applicationCookie() async throws {
        let servers = [try await startHTTPServer(name: "a"), try await startHTTPServer(name: "b"), try await startHTTPServer(name: "c")]
        let configuration = PoolPlan(
            name: "p", backends: zip(["a", "b", "c"], servers).map { backend($0, $1) },
            persistence: .applicationCookie(name: "SESSION"))
        let proxies = [
            try await startHTTPProxy(BackendPool(plan: configuration)), try await startHTTPProxy(BackendPool(plan: configuration)),
        ]
        var owners: Set<String> = []
        for session in 0..<12 {
            var seen: Set<String> = []
            for round in 0..<4 {
                let proxy = proxies[round % 2]
                let answer = try await client.send("http://\(proxy.host):\(proxy.port)/name", headers: [("Cookie", "theme=dark; SESSION=s\(session)")])
                seen.insert(answer.server ?? "?")
            }
            #expect(seen.count == 1, "session s\(session) reached \(seen)")
            owners.formUnion(seen)
        }
        #expect(owners.count >= 2, "sessions all went to \(owners)")
        for proxy in proxies { try await proxy.stop() }
        for server in servers { try await server.stop() }
    }

    @Test("a client that leaves mid-request frees its server connection at once")
    func clientLeavesEarly() async throws {
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        let proxy = try await startHTTPProxy(pool)
        let leaving = Task { try await rawExchange(host: proxy.host, port: proxy.port, "GET /slow?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(await poll(timeout: .seconds(5)) { pool.activeConnections("a") == 1 } != nil)
        leaving.cancel()
        let freed = await poll(timeout: .seconds(2)) { pool.activeConnections("a") == 0 }
        #expect(freed != nil, "the server connection stayed busy after its client left")
        _ = try? await leaving.value
        try await proxy.stop()
        try await a.stop()
    }

    @Test("weight 0 drains a server: its in-flight request finishes, new ones go elsewhere")
    func drain() async throws {
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let configuration = PoolPlan(name: "p", backends: [backend("a", a), backend("b", b)], scheduling: .leastConnections)
        let pool = BackendPool(plan: configuration)
        let proxy = try await startHTTPProxy(pool)
        let slow = Task { try await client.send("http://\(proxy.host):\(proxy.port)/slow?ms=800") }
        _ = await poll(timeout: .seconds(5)) { pool.snapshot().servers.contains { $0.active == 1 } }
        let busy = try #require(pool.snapshot().servers.first { $0.active == 1 }?.id)
        var drained = configuration
        drained.backends = drained.backends.map {
            var server = $0
            if server.id == busy { server.weight = 0 }
            return server
        }
        pool.reconfigure(drained)
        for _ in 0..<6 {
            #expect(try await client.send("http://\(proxy.host):\(proxy.port)/name").server != busy)
        }
        let finished = try await slow.value
        #expect(finished.status == 200 && finished.server == busy)
        try await proxy.stop()
        try await a.stop()
        try await b.stop()
    }
}

/// A client that accepts the tests' self-signed certificates.
let tlsClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.tlsConfiguration = .makeClientConfiguration()
    configuration.tlsConfiguration?.certificateVerification = .none
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// Runs a program and returns its standard output (standard input is empty), waiting on a
/// thread of its own so that the tasks of other tests keep running meanwhile.
func run(_ executable: String, _ arguments: [String]) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runBlocking(executable, arguments) }) }.start()
    }
}

private func runBlocking(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Writes a fresh self-signed certificate for `name` and its key into `directory`.
func makeCertificate(_ name: String, in directory: TemporaryDirectory) async throws -> BalancerSpec.TLSFiles {
    let files = BalancerSpec.TLSFiles(certificate: directory.file("cert.pem"), key: directory.file("key.pem"))
    _ = try await run(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=\(name)", "-keyout", files.key, "-out", files.certificate,
        ])
    return files
}

@Suite("HTTPS listener")
struct HTTPSListenerTests {
    @Test("terminates TLS, tells servers the scheme, and serves a renewed certificate without a restart")
    func renewedCertificate() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-tls")
        defer { directory.remove() }
        let source = try TLSContextSource(files: try await makeCertificate("first.example", in: directory))
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        let proxy = try await startListener { host, onBound in
            HTTPProxy(
                name: "tls", host: host, port: 0, pool: pool, settings: .init(), maxConnections: 100, http2: true, tls: source,
                logger: Logger(label: "test.tls"),
                onBound: onBound)
        }
        func servedSubject() async throws -> String {
            try await run("/usr/bin/openssl", ["s_client", "-connect", "\(proxy.host):\(proxy.port)"])
                .split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? "none"
        }
        var request = HTTPClientRequest(url: "https://\(proxy.host):\(proxy.port)/name")
        request.method = .GET
        let response = try await tlsClient.execute(request, timeout: .seconds(10))
        #expect(response.status == .ok && response.headers.first(name: "x-saw-forwarded")?.contains("proto=https") == true)
        #expect(try await servedSubject().contains("first.example"))

        try await Task.sleep(for: .milliseconds(1100))  // a new modification time
        _ = try await makeCertificate("second.example", in: directory)
        #expect(try source.refresh())
        #expect(try await servedSubject().contains("second.example"))

        try await Task.sleep(for: .milliseconds(1100))
        _ = try directory.write("cert.pem", "not a certificate")
        #expect(throws: TLSLoadError.self) { try source.refresh() }
        #expect(try await servedSubject().contains("second.example"), "a bad renewal must leave the old certificate serving")
        try await proxy.stop()
        try await a.stop()
    }
}
