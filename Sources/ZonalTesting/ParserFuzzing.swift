import Foundation
import NIOCore
import ZonalBackup
import ZonalBalancer
import ZonalCache
import ZonalCoordination
import ZonalCore
import ZonalDNS
import ZonalDatabase

/// The parsers of Zonal that take bytes from outside, each with what must hold whatever the
/// bytes: an answer or a specific error, never a crash or a hang. The libFuzzer targets in
/// `Fuzz/` and the seeded tests CI runs call the same checks.
public enum ParserFuzzing {
    /// One parser under test.
    public struct Target: Sendable {
        public let name: String
        /// Inputs that reach deep into the parser, for the fuzzer's corpus and the seeded tests.
        public let seeds: @Sendable () async -> [[UInt8]]
        public let check: @Sendable ([UInt8]) -> Void

        init(name: String, seeds: [[UInt8]], check: @escaping @Sendable ([UInt8]) -> Void) {
            self.init(name: name, seeds: { seeds }, check: check)
        }

        init(name: String, seeds: @escaping @Sendable () async -> [[UInt8]], check: @escaping @Sendable ([UInt8]) -> Void) {
            self.name = name
            self.seeds = seeds
            self.check = check
        }
    }

    public static let targets: [Target] = [
        httpFront, duration, persistenceCookie, topology, watchStream, coordinatorJournal, coordinatorSnapshot, keyFile, repositoryIndex, s3Answer, controlData,
        timelineHistory, dnsMessage, zoneFile, respRequests, respReplies, s3Request, awsChunked, s3XML,
    ]

    public static func target(named name: String) -> Target? {
        targets.first { $0.name == name }
    }

    /// The balancer's client side, HTTP/1.x and HTTP/2: whatever comes in, what goes out is an
    /// HTTP/1 response, whole HTTP/2 frames, or nothing. Input is split at each 0xFF byte into
    /// separate reads (HPACK's 0xFF bytes too, which splits HTTP/2 seeds at odd places).
    static let httpFront = Target(
        name: "http-front",
        seeds: [
            "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x\r\nCookie: ZONALSRV=a.-1y2p0ij32e8e7\r\n\r\n\u{FF}GET /b HTTP/1.1\r\n\r\n",
        ].map { Array($0.utf8) } + HTTP2Bytes.conversations
    ) { bytes in
        let chunks = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
        let answer = HTTPFrontHarness.feed(chunks)
        let isHTTP2 = chunks.joined().starts(with: HTTP2Bytes.preface)
        precondition(
            answer.isEmpty || answer.starts(with: Array("HTTP/1.".utf8)) || isHTTP2 && HTTP2Bytes.isServerAnswer(answer),
            "the balancer wrote something that is neither HTTP/1 nor whole HTTP/2 frames: \(answer.prefix(48))")
    }

    /// Durations in topology files and options: nil, or a value within range that adds to an instant.
    static let duration = Target(name: "duration", seeds: ["500ms", "1.5s", "87600h", "9223372036854775807s", "-1s", "1e3s"].map { Array($0.utf8) }) { bytes in
        guard let duration = Duration(configText: String(decoding: bytes, as: UTF8.self)) else { return }
        precondition(duration >= .zero && duration <= Duration.configMaximum, "\(duration) is out of range")
        _ = MonotonicInstant(nanoseconds: .max) + duration
        _ = duration.zonalDescription
    }

    /// Persistence cookies: any header value is found or not, valid or not, at any time.
    static let persistenceCookie = Target(
        name: "persistence-cookie",
        seeds: [
            "ZONALSRV=abc.1y2p0ij", "a=1; ZONALSRV=a.-1y2p0ij32e8e7", "ZONALSRV=.", "ZONALSRV=x.zzzzzzzzzzzzzz",
        ].map { Array($0.utf8) }
    ) { bytes in
        let cookie = PersistenceCookie(timeout: .seconds(1000))
        guard let found = cookie.find(in: [String(decoding: bytes, as: UTF8.self)]) else { return }
        precondition(found.issued >= 0, "a negative issue time was taken")
        for now in [Int.min, 0, 1_800_000_000, Int.max] {
            _ = cookie.isValid(found, now: now)
            _ = cookie.needsRefresh(found, now: now)
        }
    }

    /// Topology YAML: a topology or a ``TopologyError`` naming the line.
    static let topology = Target(
        name: "topology", seeds: [Array(BuiltinTopology.quickstartYAML.utf8), Array("name: x\nregions: [{ name: r, zones: [z] }]\n".utf8)]
    ) { bytes in
        do throws(TopologyError) {
            _ = try TopologyLoader.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            precondition(!error.description.isEmpty)
        }
    }

    /// etcd's watch stream, split at each 0xFF byte into chunks: events or a specific error.
    static let watchStream = Target(
        name: "watch-stream",
        seeds: [
            #"""
            {"result":{"header":{"revision":"5"},"created":true}}
            {"result":{"events":[{"kv":{"key":"L2E=","value":"eA==","mod_revision":"6"}}]}}

            """#,
            "{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2E=\"}}]}}\u{FF}\n{\"result\":{\"compact_revision\":\"9223372036854775807\"}}\n",
            #"{"error":{"message":"etcdserver: mvcc: required revision has been compacted"}}\#n"#,
        ].map { Array($0.utf8) }
    ) { bytes in
        var decoder = WatchStreamDecoder(requestedRevision: 1)
        for chunk in bytes.split(separator: 0xFF, omittingEmptySubsequences: false) {
            do { _ = try decoder.feed(ByteBuffer(bytes: chunk)) } catch { return }
        }
    }

    /// The embedded coordinator's journal file as found at a start: the store it holds, or
    /// ``CoordinatorError/corruptState(path:reason:)``; never a crash, never a silent empty store.
    static let coordinatorJournal = Target(name: "coordinator-journal", seeds: { [await stateSeed("journal")] }) { bytes in
        openCoordinator(with: bytes, as: "journal")
    }

    /// The embedded coordinator's snapshot file, the same way.
    static let coordinatorSnapshot = Target(name: "coordinator-snapshot", seeds: { [await stateSeed("snapshot")] }) { bytes in
        openCoordinator(with: bytes, as: "snapshot")
    }

    private static func openCoordinator(with bytes: [UInt8], as file: String) {
        let directory = NSTemporaryDirectory() + "zonal-fuzz-state-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: "\(directory)/\(file)", contents: Data(bytes))
        do throws(CoordinatorError) {
            _ = try EmbeddedCoordinator(directory: directory)
        } catch {
            if case .corruptState = error { return }
            if case .rejected = error { return }
            preconditionFailure("a \(file) gave an unexpected error: \(error)")
        }
    }

    /// A repository key file: unlocked, or `wrongPassword`/`corrupt`; scrypt parameters from the
    /// file never reach scrypt unchecked.
    static let keyFile = Target(
        name: "key-file",
        seeds: [
            #"{"kdf":"scrypt","rounds":1024,"blockSize":8,"parallelism":1,"salt":"c2FsdA==","sealedKey":"AAAA","created":"2026-01-01T00:00:00Z"}"#,
            #"{"kdf":"scrypt","rounds":9223372036854775807,"blockSize":-1,"parallelism":0,"salt":"","sealedKey":"","created":"2026-01-01T00:00:00Z"}"#,
        ].map { Array($0.utf8) }
    ) { bytes in
        guard let file = try? JSONDecoder.zonal().decode(KeyFile.self, from: Data(bytes)) else { return }
        do throws(BackupError) {
            _ = try file.unlock(password: "fuzz")
        } catch {
            switch error {
            case .wrongPassword, .corrupt: return
            default: preconditionFailure("a key file gave an unexpected error: \(error)")
            }
        }
    }

    /// Index files and trees after decryption: what decodes is within range, so no reader's
    /// `offset + length` overflows.
    static let repositoryIndex = Target(
        name: "repository-index",
        seeds: [
            #"{"packs":[{"pack":"ab","blobs":[{"id":"abababababababababababababababababababababababababababababababab","kind":"data","offset":0,"length":10,"plainLength":4}]}]}"#,
            #"{"nodes":[{"name":"a","kind":"file","mode":420,"uid":0,"gid":0,"mtime":-9223372036854775808,"size":9223372036854775807,"content":[]}]}"#,
        ].map { Array($0.utf8) }
    ) { bytes in
        if let index = try? JSONDecoder.zonal().decode(IndexFile.self, from: Data(bytes)) {
            for blob in index.packs.flatMap(\.blobs) {
                let (end, overflow) = blob.offset.addingReportingOverflow(blob.length)
                precondition(!overflow && end <= 2 * PackedBlob.maximumPackBytes && blob.plainLength <= PackedBlob.maximumPlainBytes)
            }
        }
        _ = try? JSONDecoder.zonal().decode(Tree.self, from: Data(bytes))
    }

    /// S3's XML answers: element texts found, never a crash on unclosed or nested elements.
    static let s3Answer = Target(
        name: "s3-answer",
        seeds: [
            "<ListBucketResult><KeyCount>1</KeyCount><Contents><Key>a&amp;b</Key><Size>12</Size></Contents><IsTruncated>true</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>",
            "<Error><Code>SlowDown</Code><Message>&lt;please&gt;</Message></Error>", "<Contents><Contents></Contents>",
        ].map { Array($0.utf8) }
    ) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        for entry in XMLText.blocks("Contents", in: text[...]) {
            _ = XMLText.all("Key", in: entry)
            _ = Int64(XMLText.all("Size", in: entry).first ?? "")
        }
        _ = XMLText.first("Code", in: text)
    }

    /// `pg_controldata` output: fields read or left unknown.
    static let controlData = Target(
        name: "pg-controldata",
        seeds: [
            "Database cluster state:               in production\nLatest checkpoint location:           0/3000060\nLatest checkpoint's TimeLineID:       1\nMinimum recovery ending location:     0/0\n",
            "Latest checkpoint's TimeLineID: -9223372036854775808\nLatest checkpoint location: FFFFFFFF/FFFFFFFF\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        let data = ControlData(parsing: String(decoding: bytes, as: UTF8.self))
        if let timeline = data.timeline { precondition((0...Int(UInt32.max)).contains(timeline)) }
        _ = data.position
        _ = data.wasPrimary
    }

    /// Timeline history files: the switches, each with a 32-bit timeline.
    static let timelineHistory = Target(
        name: "timeline-history",
        seeds: [
            "1\t0/3000060\tno recovery target specified\n2\t0/5000000\tat restore point\n", "4294967296\t0/1\n-1 0/0\n# comment\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        for change in TimelineSwitch.parseHistory(String(decoding: bytes, as: UTF8.self)) {
            precondition((0...Int(UInt32.max)).contains(change.timeline))
        }
    }

    /// DNS messages as the server receives them, over UDP and TCP: nothing, or an answer with
    /// the query's ID that fits the transport; never a crash.
    static let dnsMessage = Target(
        name: "dns-message",
        seeds: [
            // www.example.test A with EDNS 1232 and a client subnet 10.1.2.0/24
            [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 3, 0x77, 0x77, 0x77, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 4, 0x74, 0x65, 0x73, 0x74, 0]
                + [0, 1, 0, 1, 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 2],
            // example.test IXFR with serial 5 in the authority section, compressed
            [0xAB, 0xCD, 0x00, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 251, 0, 1]
                + [0xC0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // a pointer loop in the question
            [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1],
        ]
    ) { bytes in
        for transport in [ResponseEncoder.Transport.udp, .tcp] {
            let reply = QueryResponder.respond(to: bytes, from: .init(address: [127, 0, 0, 1], port: 53), over: transport, snapshot: fuzzSnapshot).reply
            let messages: [[UInt8]]
            switch reply {
            case .none: messages = []
            case .message(let message): messages = [message]
            case .transfer(let transfer): messages = transfer
            }
            for message in messages {
                precondition(message.count >= 12 && message.prefix(2) == bytes.prefix(2), "an answer without the query's ID")
                precondition(message.count <= (transport == .udp ? ResponseEncoder.maximumUDPSize : 65535), "an answer larger than the transport allows")
            }
        }
    }

    /// What clients send the RESP proxy: requests under the limits before and after `AUTH`, each
    /// taken whole or refused with a protocol error; nothing is read past what was given.
    static let respRequests = Target(
        name: "resp-request",
        seeds: [
            "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "*999999999\r\n", "*1\r\n$-5\r\n", "*2\r\n$3\r\nSET\r\n$99999999999\r\n",
            "*1\r\n+PING\r\n", "set a b\r\n\r\n*0\r\n*-1\r\n", "*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        for limits in [RESPLimits.unauthenticated, .client(maxBulkLength: 1 << 20)] {
            var buffer = ByteBuffer(bytes: bytes)
            while let request = try? RESPRequest.next(from: &buffer, limits: limits) {
                precondition(!request.arguments.isEmpty, "an empty request was returned")
                precondition(request.arguments.count <= limits.maxAggregateLength, "more arguments than the limit")
                precondition(request.arguments.allSatisfy { $0.readableBytes <= limits.maxBulkLength }, "an argument longer than the limit")
                _ = request.name
            }
        }
    }

    /// What a Redis server (or something posing as one) sends the proxy and the agent: a value
    /// found by the scanner decodes, and nested aggregates stop at the depth limit.
    static let respReplies = Target(
        name: "resp-reply",
        seeds: [
            "+OK\r\n", "-ERR x\r\n", ":12\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n+a\r\n#t\r\n", ">2\r\n+a\r\n_\r\n",
            "|1\r\n+k\r\n+v\r\n,1.5\r\n", "=7\r\ntxt:abc\r\n", String(repeating: "*1\r\n", count: 100) + ":1\r\n", "~1\r\n(123\r\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        let limits = RESPLimits(maxBulkLength: 1 << 20, maxAggregateLength: 1 << 16, maxDepth: 16, maxLineLength: 4096)
        var buffer = ByteBuffer(bytes: bytes)
        while let value = try? RESPValue.next(from: &buffer, limits: limits) {
            _ = value.text
            _ = value.elements
        }
    }

    /// The zone the `dns-message` target asks, transfers allowed to 127.0.0.1.
    private static let fuzzSnapshot: QueryResponder.Snapshot = {
        let origin = try! DNSName(parsing: "example.test.", origin: nil)
        let text = "$TTL 1h\n@ SOA ns hm 5 1 1 1 60\n NS ns\nns A 192.0.2.1\nwww CNAME ns\n*.w TXT \"x\" \"y\"\nsub NS ns.sub\nns.sub AAAA ::1\n"
        let records = try! ZoneFileParser.parse(Array(text.utf8), file: "fuzz", origin: origin) { _ in [] }
        let route = RouteAnswer(
            ttl: 30, pools: [.init(name: "p", members: [.init(address: [10, 0, 0, 1])])],
            subnets: [.init(prefix: AddressPrefix(parsing: "10.0.0.0/8")!, pool: 0)])
        let zone = try! Zone(origin: origin, records: records, routes: [try! DNSName(parsing: "geo.example.test.", origin: nil): route])
        return QueryResponder.Snapshot(authority: Authority(zones: [zone]), transferTo: [origin: [[127, 0, 0, 1]]])
    }()

    /// Zone files: records that make a zone or a ``ZoneError``, or a ``ZoneFileError`` naming a
    /// line of the file; `$INCLUDE` reads the same bytes again (a loop ends at the depth limit).
    static let zoneFile = Target(
        name: "zone-file",
        seeds: [
            "$ORIGIN example.test.\n$TTL 1h\n@ IN SOA ns1 hostmaster ( 1 1h 15m 1w 5m )\n  NS ns1\nns1 300 A 192.0.2.1\n  AAAA 2001:db8::1\ntxt TXT \"a b\" c \"\\034\"\n_s._tcp SRV 1 2 3 t\n@ CAA 0 issue \"ca\"\nx TYPE999 \\# 2 abcd\n",
            "$TTL 1\n$INCLUDE self.zone\n@ SOA . . 1 1 1 1 1\n",
            "; only a comment\n( unbalanced\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        let origin = try! DNSName(parsing: "example.test.", origin: nil)
        do throws(ZoneFileError) {
            let records = try ZoneFileParser.parse(bytes, file: "fuzz.zone", origin: origin) { _ in bytes }
            _ = try? Zone(origin: origin, records: records)
        } catch {
            precondition(error.line >= 1 && !error.message.isEmpty, "an error without a line: \(error)")
        }
    }

    /// A state file (`journal` or `snapshot`) after a few changes of every kind, written by the
    /// coordinator itself; the snapshot is taken at the last change.
    static func stateSeed(_ file: String) async -> [UInt8] {
        let directory = NSTemporaryDirectory() + "zonal-fuzz-seed-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let coordinator = try? EmbeddedCoordinator(directory: directory, checkpointInterval: file == "snapshot" ? 4 : 10_000) else { return [] }
        _ = try? await coordinator.put("/a", value: [1], lease: nil)
        if let lease = try? await coordinator.grantLease(ttl: .seconds(5)) { _ = try? await coordinator.put("/l", value: [2], lease: lease.id) }
        _ = try? await coordinator.transaction(Transaction(compares: [.absent("/b")], success: [.put(key: "/b", value: [3], lease: nil)]))
        _ = try? await coordinator.delete("/a")
        return (try? DurableFile.readAll("\(directory)/\(file)")) ?? []
    }
}
