import AsyncHTTPClient
import Foundation
import NIOCore
import ZonalObservability

/// Real etcd members (Debian's `etcd-server`) started by a test on loopback addresses of their
/// own, with temporary data directories, and stopped by PID.
public final class EtcdFixture: @unchecked Sendable {
    public struct Member: Sendable {
        public var name: String
        public var address: String
        public var clientURL: String { "http://\(address):2379" }
        public var peerURL: String { "http://\(address):2380" }
    }

    public let members: [Member]
    public let directory: TemporaryDirectory
    private var processes: [String: ProcessFixture] = [:]
    private let lock = NSLock()

    public var endpoints: [String] { members.map(\.clientURL) }

    /// Starts a cluster of `size` members and waits until it answers.
    public init(size: Int = 1) async throws {
        guard let binary = Self.etcdBinary else {
            throw FixtureError("etcd is not installed: run scripts/test (it installs Debian's etcd-server) or apt-get install -y etcd-server")
        }
        directory = try TemporaryDirectory(prefix: "zonal-etcd")
        members = (0..<size).map { Member(name: "m\($0)", address: LoopbackAddress.random()) }
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        for member in members {
            let process = try ProcessFixture(
                executable: binary,
                arguments: [
                    "--name", member.name, "--data-dir", directory.file(member.name),
                    "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
                    "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
                    "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", directory.path,
                    "--heartbeat-interval", "100", "--election-timeout", "1000",
                ], outputPath: directory.file("\(member.name).log"))
            processes[member.name] = process
        }
        for member in members {
            guard await Self.waitHealthy(member, timeout: .seconds(30)) else {
                await stop()
                throw FixtureError("etcd member \(member.name) did not become healthy:\n\(processes[member.name]?.output.suffix(2000) ?? "")")
            }
        }
    }

    /// The member that leads the Raft group, asked of each member in turn.
    public func leader() async -> Member? {
        for member in members where processes[member.name]?.isRunning == true {
            guard let status = await Self.post(member.clientURL + "/v3/maintenance/status", body: "{}"),
                let header = status["header"] as? [String: Any],
                let memberID = header["member_id"] as? String, let leader = status["leader"] as? String
            else { continue }
            if memberID == leader { return member }
        }
        return nil
    }

    /// Kills one member with SIGKILL.
    public func kill(_ member: Member) async {
        let process = lock.withLock { processes[member.name] }
        process?.signal(SIGKILL)
        _ = await process?.waitForExit(timeout: .seconds(10))
    }

    public func stop() async {
        for process in lock.withLock({ Array(processes.values) }) {
            await process.stop(grace: .seconds(5))
        }
        directory.remove()
    }

    static var etcdBinary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func waitHealthy(_ member: Member, timeout: Duration) async -> Bool {
        await poll(every: .milliseconds(100), timeout: timeout) {
            await post(member.clientURL + "/v3/kv/range", body: #"{"key":"AA=="}"#) != nil
        } != nil
    }

    static func post(_ url: String, body: String) async -> [String: Any]? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        guard let response = try? await HTTPClient.zonal.execute(request, timeout: .seconds(2)), response.status == .ok,
            let bytes = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
