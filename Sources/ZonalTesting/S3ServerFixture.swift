import AsyncHTTPClient
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

    public init() async throws {
        guard let binary = Self.binary else {
            throw FixtureError("moto_server is not installed: run scripts/test (it installs moto[server]) or pip install 'moto[server]'")
        }
        address = LoopbackAddress.random()
        directory = try TemporaryDirectory(prefix: "zonal-s3")
        process = try ProcessFixture(executable: binary, arguments: ["-H", address, "-p", String(port)], outputPath: directory.file("moto.log"))
        let url = "http://\(address):\(port)/"
        let ready = await poll(every: .milliseconds(100), timeout: .seconds(30)) {
            (try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2)))?.status == .ok
        }
        guard ready != nil else {
            await process.stop()
            throw FixtureError("moto_server did not answer at \(url):\n\(process.output.suffix(2000))")
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
