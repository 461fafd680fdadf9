import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// `zonal dns serve` as a resolver, an operator and a secondary see it: dig and kdig over UDP
/// and TCP, a Knot secondary transferring the zone, and a region failed under `zonal up`.
@Suite("Failover DNS end to end", .serialized)
struct DNSEndToEndTests {
    static let zoneFile = """
        $ORIGIN example.test.
        $TTL 1h
        @       IN SOA ns1 hostmaster ( 2026120101 1h 15m 1w 5m )
                IN NS  ns1
                IN MX  10 mail
                IN CAA 0 issue "ca.example"
        ns1     IN A   192.0.2.1
        mail    300 IN A 192.0.2.2
                IN AAAA 2001:db8::2
        alias   CNAME mail
        chain   CNAME alias
        txt     TXT "first string" "second \\"quoted\\""
        _sip._tcp SRV 10 60 5060 mail
        *.wild  A 192.0.2.7
        sub     NS ns.sub
        ns.sub  A 192.0.2.8
        2.2.0.192.in-addr PTR mail
        big     TXT "\(String(repeating: "a", count: 250))" "\(String(repeating: "b", count: 250))" "\(String(repeating: "c", count: 250))" "\(String(repeating: "d", count: 200))"
        """

    /// A DNS service on one node serving `example.test` from a file, and `www.example.test`
    /// failing over between two backends the test starts and kills.
    struct Server {
        let directory: TemporaryDirectory
        let address: String
        let port = 5300
        let topologyFile: String
        let backends: [ProcessFixture]
        let backendAddresses: [String]
        let process: ProcessFixture

        var at: [String] { ["@\(address)", "-p", "\(port)"] }
    }

    func startServer(secondary: String? = nil) async throws -> Server? {
        let directory = try TemporaryDirectory(prefix: "zonal-dns")
        let address = LoopbackAddress.random()
        let backendAddresses = [LoopbackAddress.random(), LoopbackAddress.random()]
        let backends = try backendAddresses.enumerated().map { index, host in
            try ProcessFixture(
                executable: "/usr/bin/python3", arguments: ["-m", "http.server", "8081", "--bind", host, "--directory", directory.path],
                outputPath: directory.file("backend-\(index).out"))
        }
        _ = try directory.write("example.zone", Self.zoneFile)
        let transfer =
            secondary.map { "transfer_to: [\($0.split(separator: "@")[0])]\n          notify: [\"\($0.replacingOccurrences(of: "@", with: ":"))\"]" } ?? ""
        let topology = try directory.write(
            "topology.yaml",
            """
            name: dnstest
            regions:
              - { name: east, zones: [east-a] }
            nodes:
              - { name: n1, zone: east-a, address: \(address) }
            services:
              - name: dns
                kind: dns
                nodes: [n1]
                port: 5300
                dns:
                  tcp_idle_timeout: 1s
                  zones:
                    - name: example.test
                      file: example.zone
                      \(transfer)
                  records:
                    - name: www.example.test
                      ttl: 5s
                      pools:
                        - { name: primary, addresses: [\(backendAddresses[0])] }
                        - { name: secondary, addresses: [\(backendAddresses[1])] }
                      health: { tcp: { port: 8081 }, interval: 200ms, timeout: 200ms, rise: 1, fall: 2 }
            """)
        let process = try ProcessFixture(
            executable: ZonalBinary.path, arguments: ["dns", "serve", "-f", topology], outputPath: directory.file("dns.out"))
        let server = Server(
            directory: directory, address: address, topologyFile: topology, backends: backends, backendAddresses: backendAddresses, process: process)
        guard await poll(timeout: .seconds(20), until: { process.output.contains("DNS over TCP ready") }) != nil else {
            Issue.record("zonal dns serve did not start:\n\(process.output)")
            await stop(server)
            return nil
        }
        return server
    }

    /// Runs `body` against a started server, then stops it and everything it started.
    func withServer(secondary: String? = nil, _ body: (Server) async throws -> Void) async throws {
        guard let server = try await startServer(secondary: secondary) else { return }
        do { try await body(server) } catch {
            await stop(server)
            throw error
        }
        await stop(server)
    }

    func stop(_ server: Server) async {
        await server.process.stop()
        for backend in server.backends { await backend.stop() }
        server.directory.remove()
    }

    func dig(_ server: Server, _ arguments: String) async throws -> String {
        try await DNSClient.dig(server.at + ["+norec", "+time=2", "+tries=1"] + arguments.split(separator: " ").map(String.init), directory: server.directory)
    }

    @Test("dig and kdig get every kind of answer over UDP and TCP, truncation sends them to TCP, a client subnet is echoed")
    func answers() async throws {
        try await withServer { server in try await answers(server) }
    }

    func answers(_ server: Server) async throws {
        let dir = server.directory
        #expect(try await DNSClient.short(server.at + ["mail.example.test"], directory: dir) == ["192.0.2.2"])
        #expect(try await DNSClient.short(server.at + ["mail.example.test", "AAAA"], directory: dir) == ["2001:db8::2"])
        #expect(try await DNSClient.short(server.at + ["chain.example.test"], directory: dir) == ["192.0.2.2", "alias.example.test.", "mail.example.test."])
        #expect(try await DNSClient.short(server.at + ["txt.example.test", "TXT"], directory: dir) == [#""first string" "second \"quoted\"""#])
        #expect(try await DNSClient.short(server.at + ["_sip._tcp.example.test", "SRV"], directory: dir) == ["10 60 5060 mail.example.test."])
        #expect(try await DNSClient.short(server.at + ["example.test", "CAA"], directory: dir) == [#"0 issue "ca.example""#])
        #expect(try await DNSClient.short(server.at + ["2.2.0.192.in-addr.example.test", "PTR"], directory: dir) == ["mail.example.test."])
        #expect(try await DNSClient.short(server.at + ["any.thing.wild.example.test"], directory: dir) == ["192.0.2.7"])

        let mx = try await dig(server, "example.test MX")
        #expect(mx.contains("flags: qr aa;") && mx.contains("ADDITIONAL: 3"), "MX with the exchange's addresses:\n\(mx)")
        let missing = try await dig(server, "nothing.example.test")
        #expect(missing.contains("status: NXDOMAIN") && missing.contains("IN\tSOA"))
        let noData = try await dig(server, "mail.example.test TXT")
        #expect(noData.contains("status: NOERROR") && noData.contains("ANSWER: 0") && noData.contains("IN\tSOA\tns1.example.test."))
        let referral = try await dig(server, "host.sub.example.test")
        #expect(referral.contains("flags: qr;") && referral.contains("AUTHORITY: 1, ADDITIONAL: 2"), "\(referral)")
        #expect(try await dig(server, "www.elsewhere.test").contains("status: REFUSED"))
        let mixedCase = try await dig(server, "MaIl.ExAmPlE.tEsT")
        #expect(mixedCase.contains("MaIl.ExAmPlE.tEsT.\t300\tIN\tA\t192.0.2.2"), "the answer keeps the query's case:\n\(mixedCase)")

        let truncated = try await dig(server, "big.example.test TXT +bufsize=512")
        #expect(truncated.contains("Truncated, retrying in TCP mode") && truncated.contains("ANSWER: 1") && truncated.contains("(TCP)"), "\(truncated)")
        let cut = try await dig(server, "big.example.test TXT +bufsize=512 +ignore")
        #expect(cut.contains("flags: qr aa tc;") && cut.contains("udp: 1232"), "\(cut)")
        let classic = try await dig(server, "big.example.test TXT +noedns +ignore")
        #expect(classic.contains(" tc;") && !classic.contains("OPT PSEUDOSECTION"))

        let keptOpen = try await DNSClient.dig(
            server.at + ["+tcp", "+keepopen", "+short", "mail.example.test", "ns1.example.test", "txt.example.test", "TXT"], directory: dir)
        #expect(keptOpen.split(separator: "\n").count == 3, "three queries on one TCP connection:\n\(keptOpen)")
        let overTCP = try await DNSClient.kdig(server.at + ["+tcp", "big.example.test", "TXT"], directory: dir)
        #expect(overTCP.contains("status: NOERROR") && overTCP.contains("(TCP)"), "\(overTCP)")
        let subnet = try await DNSClient.kdig(server.at + ["+subnet=10.1.2.0/24", "www.example.test"], directory: dir)
        #expect(subnet.contains("CLIENT-SUBNET: 10.1.2.0/24/0"), "\(subnet)")

        // Garbage and a response-shaped datagram get FORMERR or nothing; the server answers on.
        for datagram in [[UInt8](repeating: 0xFF, count: 40), [0x12, 0x34, 0x81, 0x80, 0, 1], Array("GET / HTTP/1.1\r\n\r\n".utf8)] {
            try RawSocket.send(datagram, to: server.address, port: server.port)
        }
        #expect(try await DNSClient.short(server.at + ["mail.example.test"], directory: dir) == ["192.0.2.2"])
        // A TCP connection that sends nothing is closed after the idle timeout (1 s here).
        let idle = try RawSocket.secondsUntilClosed(server.address, port: server.port)
        #expect(idle >= 0.8 && idle < 5, "closed after \(idle) s")
        #expect(server.process.isRunning)
    }

    @Test("a zone file reloads on SIGHUP without a gap; a broken one is refused and the running zone stays")
    func reload() async throws {
        try await withServer { server in try await reload(server) }
    }

    func reload(_ server: Server) async throws {
        let dir = server.directory
        _ = try dir.write(
            "example.zone", Self.zoneFile.replacingOccurrences(of: "2026120101", with: "2026120102") + "\nnew A 192.0.2.50\n")
        server.process.signal(SIGHUP)
        let answered = await poll(timeout: .seconds(10)) { (try? await DNSClient.short(server.at + ["new.example.test"], directory: dir)) == ["192.0.2.50"] }
        #expect(answered != nil)
        _ = try dir.write("example.zone", Self.zoneFile + "\nbroken A 300.0.0.1\n")
        server.process.signal(SIGHUP)
        let refused = await poll(timeout: .seconds(10)) {
            server.process.output.contains("reload failed") && server.process.output.contains("example.zone:19:")
                && server.process.output.contains("is not an IPv4 address")
        }
        #expect(refused != nil, "\(server.process.output)")
        #expect(try await DNSClient.short(server.at + ["new.example.test"], directory: dir) == ["192.0.2.50"], "the running zone stays")
    }

    @Test("a Knot secondary transfers the zone by AXFR, and after a failover takes the change by IXFR on NOTIFY")
    func knotSecondary() async throws {
        let knotAddress = LoopbackAddress.random()
        try await withServer(secondary: "\(knotAddress)@5301") { server in try await knotSecondary(server, knotAddress: knotAddress) }
    }

    func knotSecondary(_ server: Server, knotAddress: String) async throws {
        let dir = server.directory
        let knotDirectory = dir.file("knot")
        try FileManager.default.createDirectory(atPath: knotDirectory + "/db", withIntermediateDirectories: true)
        let config = try dir.write(
            "knot.conf",
            """
            server:
                rundir: "\(knotDirectory)"
                listen: \(knotAddress)@5301
            database:
                storage: "\(knotDirectory)/db"
            log:
              - target: stdout
                any: info
            remote:
              - id: zonal
                address: \(server.address)@5300
                via: \(knotAddress)
            acl:
              - id: notify-from-zonal
                address: \(server.address)
                action: notify
            zone:
              - domain: example.test
                storage: "\(knotDirectory)"
                master: zonal
                acl: notify-from-zonal
            """)
        let knot = try ProcessFixture(executable: "/usr/sbin/knotd", arguments: ["-c", config], outputPath: dir.file("knot.out"))
        defer { knot.signal(SIGKILL) }
        let secondary = ["@\(knotAddress)", "-p", "5301"]
        let transferred = await poll(timeout: .seconds(20)) {
            (try? await DNSClient.short(secondary + ["mail.example.test"], directory: dir)) == ["192.0.2.2"]
        }
        #expect(transferred != nil, "Knot did not serve the zone:\n\(knot.output)")
        #expect(knot.output.contains("AXFR, incoming") || knot.output.contains("AXFR"), "\(knot.output)")
        #expect(try await DNSClient.short(secondary + ["www.example.test"], directory: dir) == [server.backendAddresses[0]])

        await server.backends[0].stop()
        let followed = await poll(timeout: .seconds(20)) {
            (try? await DNSClient.short(secondary + ["www.example.test"], directory: dir)) == [server.backendAddresses[1]]
        }
        #expect(followed != nil, "the secondary did not follow the failover:\n\(knot.output)")
        #expect(knot.output.contains("IXFR"), "the change came as an incremental transfer:\n\(knot.output)")
        #expect(server.process.output.contains("secondary acknowledged NOTIFY"), "\(server.process.output)")
    }

    @Test("a zone file with an error stops the server at start with the file, the line and the reason")
    func badZoneFile() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-dns")
        defer { directory.remove() }
        _ = try directory.write("example.zone", "$TTL 1h\n@ SOA ns hm 1 1 1 1 1\nwww MX 10\n")
        let topology = try directory.write(
            "topology.yaml",
            """
            name: badzone
            regions: [{ name: r, zones: [z] }]
            nodes: [{ name: n, zone: z, address: \(LoopbackAddress.random()) }]
            services:
              - { name: dns, kind: dns, nodes: [n], port: 5300, dns: { zones: [{ name: example.test, file: example.zone }] } }
            """)
        let (status, output) = try await ZonalBinary.run(["dns", "serve", "-f", topology], directory: directory)
        #expect(status != 0)
        #expect(output.contains("example.zone:3: missing the mail exchange"), "\(output)")
    }
}

/// Plain sockets for what no DNS client sends: raw datagrams, and a TCP connection kept silent.
enum RawSocket {
    static func send(_ bytes: [UInt8], to host: String, port: Int) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { throw FixtureError("socket: \(errno)") }
        defer { close(socket) }
        var address = try Self.address(host, port)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { Glibc.sendto(socket, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == bytes.count else { throw FixtureError("sendto: \(errno)") }
    }

    /// Connects, sends nothing, and returns the seconds until the server closes (at most 10).
    static func secondsUntilClosed(_ host: String, port: Int) throws -> Double {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw FixtureError("socket: \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = try Self.address(host, port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw FixtureError("connect: \(errno)") }
        let start = ContinuousClock.now
        var byte: UInt8 = 0
        _ = recv(socket, &byte, 1, 0)
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private static func address(_ host: String, _ port: Int) throws -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw FixtureError("bad address \(host)") }
        return address
    }
}

/// The failover the quickstart promises, under `zonal up`: a region's balancers lost, the
/// name answering with the other region's within one detection time, and back on recovery.
@Suite("Failover DNS under zonal up", .serialized)
struct DNSRegionFailoverTests {
    @Test("zonal fail region east: www answers with west's balancer within the check's detection time; zonal recover brings east back")
    func regionFailover() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-dns-up")
        defer { directory.remove() }
        let (east, west) = (LoopbackAddress.random(), LoopbackAddress.random())
        let health = HealthCheckSpec(probe: .tcp(port: 8000), interval: .milliseconds(200), timeout: .milliseconds(200), rise: 1, fall: 2)
        let topology = try directory.write(
            "topology.yaml",
            """
            name: dnsfailover\(UInt16.random(in: 0...UInt16.max))
            coordinator: { backend: embedded, host: \(LoopbackAddress.random()), port: 7379 }
            supervisor: { control_host: \(LoopbackAddress.random()), control_port: 7300, state_dir: \(directory.path)/state }
            regions:
              - { name: east, zones: [east-a] }
              - { name: west, zones: [west-a] }
            nodes:
              - { name: e1, zone: east-a, address: \(east) }
              - { name: w1, zone: west-a, address: \(west) }
            services:
              - { name: web, kind: app, zones: [east-a, west-a], port: 8080, admin_port: 9080 }
              - name: lb
                kind: balancer
                zones: [east-a, west-a]
                port: 8000
                balancer: { pools: [{ name: web, service: web }] }
              - name: dns
                kind: dns
                zones: [east-a, west-a]
                port: 5300
                admin_port: 9053
                dns:
                  zones: [{ name: failover.test }]
                  records:
                    - name: www.failover.test
                      ttl: 5s
                      pools:
                        - { name: east, service: lb, region: east }
                        - { name: west, service: lb, region: west }
                      health: { tcp: { port: 8000 }, interval: 200ms, timeout: 200ms, rise: 1, fall: 2 }
            """)
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", topology], outputPath: directory.file("up.out"))
        defer { up.signal(SIGKILL) }
        guard await poll(timeout: .seconds(60), until: { up.output.contains("is up: 6/6 instances healthy") }) != nil else {
            Issue.record("zonal up did not become ready:\n\(up.output)")
            return
        }
        #expect(up.output.contains("dig @\(west) -p 5300 www.failover.test"))
        let query = ["@\(west)", "-p", "5300", "www.failover.test"]
        #expect(try await DNSClient.short(query, directory: directory) == [east])

        let failed = try await ZonalBinary.run(["fail", "region", "east", "-f", topology], directory: directory)
        #expect(failed.status == 0, "\(failed.output)")
        let switched = await poll(every: .milliseconds(20), timeout: .seconds(10)) {
            (try? await DNSClient.short(query, directory: directory)) == [west]
        }
        #expect(switched != nil && switched! <= health.worstCaseDetectionTime + .milliseconds(700), "switched after \(String(describing: switched))")
        let status = try await ZonalBinary.run(["dns", "status", "-f", topology], directory: directory)
        #expect(status.output.contains("pool west: \(west)") && status.output.contains("\(east) DOWN"), "\(status.output)")
        #expect(status.output.contains("of pool east is down"), "the change says why:\n\(status.output)")

        _ = try await ZonalBinary.run(["recover", "region", "east", "-f", topology], directory: directory)
        let back = await poll(timeout: .seconds(20)) { (try? await DNSClient.short(query, directory: directory)) == [east] }
        #expect(back != nil, "the answer did not come back to east")
        up.signal(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) != nil)
    }
}
