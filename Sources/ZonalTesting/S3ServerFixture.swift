import Foundation

/// An S3-compatible server for tests: moto's standalone server (`moto_server`, installed by
/// scripts/test), started on a loopback address of its own and stopped by PID. It speaks the
/// S3 REST protocol over HTTP like any other endpoint; each test uses a bucket of its own.
public final class S3ServerFixture: Sendable {
    public let address: String
    public let port = 9000
    private let process: ProcessFixture
    private let directory: TemporaryDirectory

    /// Any key works with moto; these are the documentation's example keys.
    public static let environment = [
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": "us-east-1",
    ]

    public var endpoint: String { "http://\(address):\(port)" }

    /// An `s3:` repository location in a fresh bucket.
    public func repositoryLocation(prefix: String = "repo") -> String {
        "s3:\(endpoint)/zonal-\(UUID().uuidString.prefix(8).lowercased())/\(prefix)"
    }

    /// Starts the server. With `unauthenticatedRequests`, it checks the signature of every
    /// request after that many (which can set up an IAM user with keys; see moto's
    /// INITIAL_NO_AUTH_ACTION_COUNT); without, it accepts any keys.
    public init(unauthenticatedRequests: Int? = nil) async throws {
        guard let binary = Self.binary else {
            throw FixtureError("moto_server is not installed: run scripts/test (it installs moto[server]) or pip install 'moto[server]'")
        }
        address = LoopbackAddress.random()
        directory = try TemporaryDirectory(prefix: "zonal-s3")
        process = try ProcessFixture(
            executable: binary, arguments: ["-H", address, "-p", String(port)], outputPath: directory.file("moto.log"),
            environment: unauthenticatedRequests.map { ["INITIAL_NO_AUTH_ACTION_COUNT": String($0)] } ?? [:])
        // Ready when it accepts connections: a request would count as one of the unauthenticated.
        let address = address
        let port = port
        let ready = await poll(every: .milliseconds(100), timeout: .seconds(30)) { Self.accepts(address, port: port) }
        guard ready != nil else {
            await process.stop()
            throw FixtureError("moto_server did not listen on \(address):\(port):\n\(process.output.suffix(2000))")
        }
    }

    private static func accepts(_ address: String, port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, address, &target.sin_addr)
        return withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    public func stop() async {
        await process.stop(grace: .seconds(5))
        directory.remove()
    }

    /// `ZONAL_MOTO_SERVER` (scripts/test sets it), else `moto_server` on the PATH.
    static var binary: String? {
        let environment = ProcessInfo.processInfo.environment
        let path = (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/moto_server" }
        return ([environment["ZONAL_MOTO_SERVER"]].compactMap { $0 } + path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
