import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// Real Redis servers run by real agents behind the Zonal proxy: failover after kill -9 of a
/// two-node pair, the old master's return as a replica, a client through the proxy across the
/// failover, Sentinel-protocol discovery, fencing of a master cut off from the coordinator, and
/// hostile bytes at the proxy.
@Suite("Cache HA end to end", .serialized)
struct CacheEndToEndTests {
    /// Writes `w<i>` through the proxy for a while, one at a time, logging every acknowledged
    /// write and every error with its time since the start; then reads them all back.
    static let writer = """
        import json, redis, sys, time
        host, port, password, seconds, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
        client = redis.Redis(host=host, port=port, password=password, socket_timeout=5)
        acked, errors, start, i = [], [], time.time(), 0
        while time.time() - start < seconds:
            i += 1
            try:
                client.set(f"w{i}", i)
                acked.append([i, time.time() - start])
            except Exception as error:
                errors.append([i, time.time() - start, str(error)[:200]])
            time.sleep(0.002)
        json.dump({"acked": acked, "errors": errors}, open(log, "w"))
        """

    /// Discovers the master through the Sentinel listeners as any redis-py Sentinel user does.
    static let sentinelClient = """
        import sys
        from redis.sentinel import Sentinel
        password = sys.argv[1]
        sentinels = [(address.split(":")[0], int(address.split(":")[1])) for address in sys.argv[2:]]
        sentinel = Sentinel(sentinels, socket_timeout=2, sentinel_kwargs={"password": password}, password=password)
        host, port = sentinel.discover_master("cache")
        master = sentinel.master_for("cache", socket_timeout=2)
        master.set("via-sentinel", "yes")
        print(f"{host}:{port} {master.get('via-sentinel').decode()} {len(sentinel.discover_slaves('cache'))}")
        """

    @Test(
        "kill -9 of the master of a pair: the replica takes over in about a second with every acknowledged write, the proxy carries the client across, Sentinel clients find the new master, the old master rejoins"
    )
    func failoverOfAPair() async throws {
        let cluster = try await CacheCluster(nodes: ["a1", "b1"])
        defer { Task { await cluster.stop() } }
        let first = try #require(await cluster.waitForMaster(), "no master came up: \(cluster.output("a1").suffix(2000))")
        let second = first == "a1" ? "b1" : "a1"
        #expect(await cluster.waitForReplica(second))
        try await cluster.startProxy()
        let sentinels = cluster.nodes.values.map { "\($0):\(CacheCluster.sentinelPort)" }
        let before = try await cluster.python(Self.sentinelClient, [cluster.password] + sentinels)
        #expect(before.output.hasPrefix("\(cluster.nodes[first]!):\(CacheCluster.port) yes 1"), "\(before.output)")

        let log = cluster.directory.file("writer.json")
        async let writing = cluster.python(Self.writer, [cluster.proxyHost, "\(CacheCluster.proxyPort)", cluster.password, "6", log])
        try await Task.sleep(for: .seconds(2))
        cluster.kill9(first)
        let killedAt = ContinuousClock.now
        let successor = await cluster.waitForMaster(among: [second], timeout: .seconds(10))
        let recovery = ContinuousClock.now - killedAt
        #expect(successor == second, "no failover: \(cluster.output(second).suffix(3000))")
        #expect(recovery < .seconds(4), "failover took \(recovery)")
        let (status, output) = try await writing
        #expect(status == 0, "\(output)")

        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log))) as? [String: [[Any]]])
        let acked = (result["acked"] ?? []).compactMap { $0.first as? Int }
        let errors = result["errors"] ?? []
        #expect(acked.count > 500, "only \(acked.count) writes acknowledged")
        // A command in flight when the master died fails; later ones wait for the new master.
        #expect(errors.count <= 3, "errors: \(errors)")
        for error in errors { #expect("\(error.last ?? "")".contains("MASTERDOWN"), "\(error)") }
        let sample = acked.filter { $0 % 50 == 0 || $0 == acked.last }
        let present = await cluster.redisCLI(second, ["MGET"] + sample.map { "w\($0)" })
        #expect(!present.split(separator: "\n").contains(""), "acknowledged writes missing on the new master: \(present)")
        #expect(await cluster.redisCLI(second, ["EXISTS", "w\(acked.last ?? 0)"]) == "1")

        let after = try await cluster.python(Self.sentinelClient, [cluster.password, "\(cluster.nodes[second]!):\(CacheCluster.sentinelPort)"])
        #expect(after.output.hasPrefix("\(cluster.nodes[second]!):\(CacheCluster.port) yes 0"), "\(after.output)")

        try cluster.startAgent(first)
        #expect(await cluster.waitForReplica(first), "the old master did not rejoin: \(cluster.output(first).suffix(3000))")
        #expect(await poll(timeout: .seconds(10)) { await cluster.redisCLI(first, ["GET", "w\(acked.last ?? 0)"]) == "\(acked.last ?? 0)" } != nil)
        let status2 = try await ZonalBinary.run(
            ["cache", "status", "--topology", cluster.file], directory: cluster.directory, environment: cluster.environment)
        #expect(status2.output.contains("master \(second)"), "\(status2.output)")
        #expect(status2.output.contains("failover \(first) → \(second)"), "\(status2.output)")
    }

    @Test("a master cut off from the coordinator pauses writes before its lease can expire; a new master is chosen when the coordinator returns")
    func partitionedMasterStopsAcknowledging() async throws {
        let cluster = try await CacheCluster(nodes: ["a1", "b1"])
        defer { Task { await cluster.stop() } }
        let master = try #require(await cluster.waitForMaster())
        #expect(await cluster.redisCLI(master, ["SET", "before", "1"]) == "OK")
        cluster.coordinator.signal(SIGSTOP)
        // ttl 1 s, fence margin 0.3 s: by 1 s after the last renewal writes are paused.
        try await Task.sleep(for: .milliseconds(1200))
        let started = ContinuousClock.now
        let reply = await cluster.redisCLI(host: cluster.nodes[master]!, port: CacheCluster.port, ["SET", "during", "1"], timeout: .seconds(2))
        #expect(reply != "OK", "a master without a lease acknowledged a write")
        #expect(ContinuousClock.now - started >= .seconds(1))
        cluster.coordinator.signal(SIGCONT)
        let next = await cluster.waitForMaster(timeout: .seconds(15))
        #expect(next != nil, "\(cluster.output(master).suffix(2000))")
        let before = await cluster.redisCLI(next ?? master, ["GET", "before"])
        #expect(before == "1", "\(next ?? "none") answered \(before): \(cluster.output(next ?? master).suffix(2500))")
        #expect(await cluster.redisCLI(next ?? master, ["SET", "after", "1"]) == "OK")
    }

    /// Sends the bytes of a file to the proxy and prints what comes back before it closes (or
    /// a second passes without more).
    static let rawClient = """
        import socket, sys
        connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
        connection.sendall(open(sys.argv[3], "rb").read())
        data = b""
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk: break
                data += chunk
        except socket.timeout:
            pass
        print(data.decode(errors="replace").replace("\\r\\n", "|"))
        """

    @Test("hostile bytes at the proxy get Redis-style errors or a clean close, and the proxy keeps serving")
    func hostileInputAtTheProxy() async throws {
        let cluster = try await CacheCluster(nodes: ["a1"])
        defer { Task { await cluster.stop() } }
        _ = try #require(await cluster.waitForMaster())
        try await cluster.startProxy()
        let host = cluster.proxyHost
        #expect(await poll(timeout: .seconds(10)) { await cluster.redisCLI(host: host, port: CacheCluster.proxyPort, ["PING"]) == "PONG" } != nil)
        let auth = "*2\r\n$4\r\nAUTH\r\n$\(cluster.password.utf8.count)\r\n\(cluster.password)\r\n"
        let cases: [(String, String, String)] = [
            ("*1\r\n$4\r\nPING\r\n", "NOAUTH", "before AUTH"),
            ("*999999999\r\n", "Protocol error: invalid multibulk length", "a huge array before AUTH"),
            (auth + "*2\r\n$3\r\nGET\r\n$99999999999\r\n", "Protocol error", "a huge bulk length"),
            (auth + "*1\r\n+PING\r\n", "Protocol error: expected '$'", "a request that is not bulk strings"),
            (auth + "*1\r\n$-5\r\n", "Protocol error: invalid bulk length", "a negative bulk length"),
            (auth + "*1\r\n$7\r\nNOSUCHC\r\n", "ERR unknown command", "an unknown command"),
            (auth + String(repeating: "*1\r\n", count: 100), "+OK|", "a request cut off mid-command"),
            (auth + String(repeating: "x", count: 70_000), "Protocol error: too big inline request", "an endless inline line"),
        ]
        for (bytes, expected, what) in cases {
            let input = try cluster.directory.write("input-\(UUID().uuidString.prefix(8))", bytes)
            let (_, output) = try await cluster.python(Self.rawClient, [host, "\(CacheCluster.proxyPort)", input], timeout: .seconds(10))
            #expect(output.contains(expected), "\(what): \(output)")
        }
        #expect(cluster.proxy?.isRunning == true)
        #expect(await cluster.redisCLI(host: host, port: CacheCluster.proxyPort, ["SET", "still", "serving"]) == "OK")
        #expect(await cluster.redisCLI(host: host, port: CacheCluster.proxyPort, ["GET", "still"]) == "serving")
    }
}
