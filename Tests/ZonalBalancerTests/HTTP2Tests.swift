import Foundation
import Logging
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

/// curl's answer: the status line's protocol and code, the headers (lower-cased) and the body.
struct CurlAnswer {
    var version: String
    var status: Int
    var headers: [String: String]
    var body: Data
}

/// Runs curl with `arguments` (plus a header dump) and parses what it got.
func curl(_ arguments: [String], in directory: TemporaryDirectory) async throws -> CurlAnswer {
    let name = UUID().uuidString.prefix(8)
    let headerFile = directory.file("headers-\(name)")
    let bodyFile = directory.file("body-\(name)")
    _ = try await run("/usr/bin/curl", ["-s", "-k", "--max-time", "30", "-D", headerFile, "-o", bodyFile] + arguments)
    let head = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    let lines = head.components(separatedBy: "\r\n")
    let statusParts = (lines.first ?? "").split(separator: " ")
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return CurlAnswer(
        version: statusParts.first.map(String.init) ?? "", status: statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0, headers: headers,
        body: FileManager.default.contents(atPath: bodyFile) ?? Data())
}

@Suite("HTTP/2 towards clients")
struct HTTP2Tests {
    @Test("prior-knowledge HTTP/2 gets the same answers as HTTP/1.1: names, forwarded headers, streamed bodies both ways")
    func priorKnowledge() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-h2")
        defer { directory.remove() }
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a), backend("b", b)]))
        let proxy = try await startHTTPProxy(pool)
        let base = "http://\(proxy.host):\(proxy.port)"
        var servers: [String] = []
        for _ in 0..<4 {
            let h2 = try await curl(["--http2-prior-knowledge", "\(base)/name"], in: directory)
            #expect(h2.version == "HTTP/2" && h2.status == 200, "\(h2)")
            #expect(h2.headers["x-saw-forwarded-for"]?.hasPrefix("127.") == true, "\(h2.headers)")
            #expect(String(decoding: h2.body, as: UTF8.self) == h2.headers["x-server"])
            servers.append(h2.headers["x-server"] ?? "?")
        }
        #expect(Set(servers) == ["a", "b"], "streams are balanced one by one: \(servers)")
        let h2 = try await curl(["--http2-prior-knowledge", "\(base)/name"], in: directory)
        let h1 = try await curl(["--http1.1", "\(base)/name"], in: directory)
        #expect(h1.version == "HTTP/1.1" && h1.status == 200, "\(h1)")
        #expect(h2.headers["x-saw-forwarded"] == h1.headers["x-saw-forwarded"], "\(h2.headers) against \(h1.headers)")

        // More than the 64 KiB stream and connection windows each way: flow control holds.
        let upload = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let uploadFile = directory.file("upload")
        try upload.write(to: URL(fileURLWithPath: uploadFile))
        let echoed = try await curl(["--http2-prior-knowledge", "--data-binary", "@\(uploadFile)", "\(base)/echo"], in: directory)
        #expect(echoed.status == 200 && echoed.body == upload, "echoed \(echoed.body.count) of \(upload.count) bytes")
        let download = try await curl(["--http2-prior-knowledge", "\(base)/bytes?n=5000000"], in: directory)
        #expect(download.status == 200 && download.body.count == 5_000_000)

        try await proxy.stop()
        try await a.stop()
        try await b.stop()
    }

    @Test("HTTPS offers h2 in ALPN and falls back to HTTP/1.1; h2load's streams all succeed")
    func tlsAndLoad() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-h2-tls")
        defer { directory.remove() }
        let source = try TLSContextSource(files: try await makeCertificate("h2.example", in: directory))
        let a = try await startHTTPServer(name: "a")
        let b = try await startHTTPServer(name: "b")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a), backend("b", b)]))
        let proxy = try await startListener { host, onBound in
            HTTPProxy(
                name: "h2", host: host, port: 0, pool: pool, settings: .init(), maxConnections: 100, http2: true, tls: source,
                logger: Logger(label: "test.h2"), onBound: onBound)
        }
        let url = "https://\(proxy.host):\(proxy.port)/name"
        let h2 = try await curl(["--http2", url], in: directory)
        #expect(h2.version == "HTTP/2" && h2.status == 200 && h2.headers["x-saw-forwarded"]?.contains("proto=https") == true, "\(h2)")
        let h1 = try await curl(["--http1.1", url], in: directory)
        #expect(h1.version == "HTTP/1.1" && h1.status == 200, "\(h1)")

        let load = try await run("/usr/bin/h2load", ["-n", "1000", "-c", "4", "-m", "16", url])
        #expect(load.contains("1000 succeeded, 0 failed, 0 errored"), "\(load)")
        #expect(load.contains("status codes: 1000 2xx"), "\(load)")
        let cleartext = try await startHTTPProxy(pool)
        let plain = try await run("/usr/bin/h2load", ["-n", "1000", "-c", "4", "-m", "16", "http://\(cleartext.host):\(cleartext.port)/name"])
        #expect(plain.contains("1000 succeeded, 0 failed, 0 errored"), "\(plain)")
        try await cleartext.stop()
        try await proxy.stop()
        try await a.stop()
        try await b.stop()
    }

    @Test("the limits apply per stream: 431, 413, 503, and the connection serves on after each")
    func limitsPerStream() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-h2-limits")
        defer { directory.remove() }
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        var settings = HTTPSpec()
        settings.limits.maxBodyBytes = 1000
        settings.limits.maxHeaderBytes = 4096
        let proxy = try await startHTTPProxy(pool, settings: settings)
        let base = "http://\(proxy.host):\(proxy.port)"
        let big = try await curl(["--http2-prior-knowledge", "-H", "X-Big: \(String(repeating: "b", count: 8000))", "\(base)/name"], in: directory)
        #expect(big.version == "HTTP/2" && big.status == 431, "\(big)")
        let body = try await curl(["--http2-prior-knowledge", "--data-binary", String(repeating: "x", count: 5000), "\(base)/echo"], in: directory)
        #expect(body.status == 413, "\(body)")
        // Several requests on one connection (nghttp multiplexes its URIs): a refusal or a
        // server's error ends its stream, not the connection.
        let streams = try await run("/usr/bin/nghttp", ["-nv", "\(base)/fail", "\(base)/name", "\(base)/bytes?n=100"])
        let statuses = streams.components(separatedBy: "\n").filter { $0.contains(":status:") }.compactMap { $0.split(separator: " ").last }.sorted()
        #expect(statuses == ["200", "200", "500"], "\(streams.suffix(2000))")

        pool.setHealth("a", .unhealthy)
        let none = try await curl(["--http2-prior-knowledge", "\(base)/name"], in: directory)
        #expect(none.status == 503, "\(none)")
        try await proxy.stop()
        try await a.stop()
    }

    @Test("an HTTP/2 connection with no open stream is closed after the keep-alive timeout, one that opens none after the header timeout")
    func idleConnections() async throws {
        let a = try await startHTTPServer(name: "a")
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [backend("a", a)]))
        var settings = HTTPSpec()
        settings.headerTimeout = .seconds(1)
        settings.keepAliveTimeout = .seconds(1)
        let proxy = try await startHTTPProxy(pool, settings: settings)
        let started = ContinuousClock.now
        // The preface and an empty SETTINGS frame, then nothing.
        let answer = try await rawExchange(host: proxy.host, port: proxy.port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}\u{0}\u{4}\u{0}\u{0}\u{0}\u{0}\u{0}")
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(900) && waited < .seconds(10), "closed after \(waited)")
        #expect(answer.utf8.count >= 9 && Array(answer.utf8)[3] == 4, "the server's SETTINGS came first")
        // Half a preface, never finished: closed by the header timeout too.
        let half = ContinuousClock.now
        _ = try await rawExchange(host: proxy.host, port: proxy.port, "PRI * HTTP/2.0\r\n")
        #expect(ContinuousClock.now - half < .seconds(10))
        try await proxy.stop()
        try await a.stop()
    }
}
