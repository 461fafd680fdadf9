import Foundation
import NIOCore
import ZonalBalancer
import ZonalCoordination
import ZonalCore

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

    public static let targets: [Target] = [httpFront, duration, persistenceCookie, topology, watchStream, coordinatorJournal]

    public static func target(named name: String) -> Target? {
        targets.first { $0.name == name }
    }

    /// The balancer's client side: whatever comes in, what goes out is an HTTP response or nothing.
    /// Input is split at each 0xFF byte into separate reads.
    static let httpFront = Target(name: "http-front", seeds: [
        "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\nCookie: ZONALSRV=a.-1y2p0ij32e8e7\r\n\r\n\u{FF}GET /b HTTP/1.1\r\n\r\n",
    ].map { Array($0.utf8) }) { bytes in
        let chunks = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
        let answer = HTTPFrontHarness.feed(chunks)
        precondition(answer.isEmpty || answer.starts(with: Array("HTTP/1.".utf8)), "the balancer wrote something that is not HTTP")
    }

    /// Durations in topology files and options: nil, or a value within range that adds to an instant.
    static let duration = Target(name: "duration", seeds: ["500ms", "1.5s", "87600h", "9223372036854775807s", "-1s", "1e3s"].map { Array($0.utf8) }) { bytes in
        guard let duration = Duration(configText: String(decoding: bytes, as: UTF8.self)) else { return }
        precondition(duration >= .zero && duration <= Duration.configMaximum, "\(duration) is out of range")
        _ = MonotonicInstant(nanoseconds: .max) + duration
        _ = duration.zonalDescription
    }

    /// Persistence cookies: any header value is found or not, valid or not, at any time.
    static let persistenceCookie = Target(name: "persistence-cookie", seeds: [
        "ZONALSRV=abc.1y2p0ij", "a=1; ZONALSRV=a.-1y2p0ij32e8e7", "ZONALSRV=.", "ZONALSRV=x.zzzzzzzzzzzzzz",
    ].map { Array($0.utf8) }) { bytes in
        let cookie = PersistenceCookie(timeout: .seconds(1000))
        guard let found = cookie.find(in: [String(decoding: bytes, as: UTF8.self)]) else { return }
        precondition(found.issued >= 0, "a negative issue time was taken")
        for now in [Int.min, 0, 1_800_000_000, Int.max] {
            _ = cookie.isValid(found, now: now)
            _ = cookie.needsRefresh(found, now: now)
        }
    }

    /// Topology YAML: a topology or a ``TopologyError`` naming the line.
    static let topology = Target(name: "topology", seeds: [Array(BuiltinTopology.quickstartYAML.utf8), Array("name: x\nregions: [{ name: r, zones: [z] }]\n".utf8)]) { bytes in
        do throws(TopologyError) {
            _ = try TopologyLoader.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            precondition(!error.description.isEmpty)
        }
    }

    /// etcd's watch stream, split at each 0xFF byte into chunks: events or a specific error.
    static let watchStream = Target(name: "watch-stream", seeds: [
        #"{"result":{"header":{"revision":"5"},"created":true}}"# + "\n" + #"{"result":{"events":[{"kv":{"key":"L2E=","value":"eA==","mod_revision":"6"}}]}}"# + "\n",
        #"{"result":{"events":[{"type":"DELETE","kv":{"key":"L2E="}}]}}"# + "\u{FF}\n" + #"{"result":{"compact_revision":"9223372036854775807"}}"# + "\n",
        #"{"error":{"message":"etcdserver: mvcc: required revision has been compacted"}}"# + "\n",
    ].map { Array($0.utf8) }) { bytes in
        var decoder = WatchStreamDecoder(requestedRevision: 1)
        for chunk in bytes.split(separator: 0xFF, omittingEmptySubsequences: false) {
            do { _ = try decoder.feed(ByteBuffer(bytes: chunk)) } catch { return }
        }
    }

    /// The embedded coordinator's journal file as found at a start: the store it holds, or
    /// ``CoordinatorError/corruptState(path:reason:)``; never a crash, never a silent empty store.
    static let coordinatorJournal = Target(name: "coordinator-journal", seeds: { [await journalSeed()] }) { bytes in
        let directory = NSTemporaryDirectory() + "zonal-fuzz-journal-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        FileManager.default.createFile(atPath: directory + "/journal", contents: Data(bytes))
        do throws(CoordinatorError) {
            _ = try EmbeddedCoordinator(directory: directory)
        } catch {
            if case .corruptState = error { return }
            if case .rejected = error { return }
            preconditionFailure("a journal gave an unexpected error: \(error)")
        }
    }

    /// A journal of a few changes of every kind, written by the coordinator itself.
    static func journalSeed() async -> [UInt8] {
        let directory = NSTemporaryDirectory() + "zonal-fuzz-seed-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let coordinator = try? EmbeddedCoordinator(directory: directory) else { return [] }
        _ = try? await coordinator.put("/a", value: [1], lease: nil)
        if let lease = try? await coordinator.grantLease(ttl: .seconds(5)) { _ = try? await coordinator.put("/l", value: [2], lease: lease.id) }
        _ = try? await coordinator.transaction(Transaction(compares: [.absent("/b")], success: [.put(key: "/b", value: [3], lease: nil)]))
        _ = try? await coordinator.delete("/a")
        return Array(FileManager.default.contents(atPath: directory + "/journal") ?? Data())
    }
}
