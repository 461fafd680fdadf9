import Crypto
import Foundation
import ZonalCore

/// A repository in an S3 bucket, written `s3:http://HOST[:PORT]/BUCKET[/PREFIX]` (the form
/// restic uses). Requests go path-style (`/BUCKET/KEY`), which every S3-compatible server
/// understands, Zonal's object storage and MinIO included.
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    /// `http://host:port` or `https://host:port`, no path.
    public var endpoint: String
    /// `host` or `host:port` as the Host header carries it.
    public var host: String
    public var bucket: String
    /// Key prefix of every repository file, without slashes at either end; may be empty.
    public var prefix: String

    public static let scheme = "s3:"

    /// Parses `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`; nil when `text` does not start with `s3:`.
    public init?(parsing text: String) throws(BackupError) {
        guard text.hasPrefix(Self.scheme) else { return nil }
        let rest = String(text.dropFirst(Self.scheme.count))
        guard let url = URL(string: rest), let scheme = url.scheme, ["http", "https"].contains(scheme), let hostName = url.host, !hostName.isEmpty else {
            throw .invalid("\(text) is not an S3 location; write s3:http://HOST:PORT/BUCKET/PREFIX (or https)")
        }
        let parts = url.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let bucket = parts.first else { throw .invalid("\(text) names no bucket; write s3:\(scheme)://\(hostName)/BUCKET/PREFIX") }
        guard Self.isValidBucket(bucket) else {
            throw .invalid("\(bucket) is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)")
        }
        host = url.port.map { "\(hostName):\($0)" } ?? hostName
        endpoint = "\(scheme)://\(host)"
        self.bucket = bucket
        prefix = parts.dropFirst().joined(separator: "/")
    }

    /// The object key of repository file `name` (for example `data/ab/ab12…`).
    public func key(_ name: String) -> String {
        prefix.isEmpty ? name : name.isEmpty ? prefix : "\(prefix)/\(name)"
    }

    public var description: String {
        "\(Self.scheme)\(endpoint)/\(bucket)\(prefix.isEmpty ? "" : "/\(prefix)")"
    }

    static func isValidBucket(_ name: String) -> Bool { ObjectStoreSpec.isBucketName(name) }
}

/// Keys for an S3 endpoint, taken from the environment variables every S3 tool reads.
public struct S3Credentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// For temporary credentials; sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, if set, `AWS_SESSION_TOKEN`.
    public init(environment: [String: String]) throws(BackupError) {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw .invalid("an S3 repository needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        }
        self.init(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `AWS_DEFAULT_REGION`, else `AWS_REGION`, else `us-east-1`.
    public static func region(environment: [String: String]) -> String {
        [environment["AWS_DEFAULT_REGION"], environment["AWS_REGION"]].compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
    }
}

extension S3Credentials {
    /// The root key of a Zonal object store, from the secret its front ends generate: the access
    /// key id is derived from the secret (`ZONAL` and 15 hex digits of its SHA-256), so the one
    /// secret file holds the pair.
    public init(zonalStoreSecret secret: String) {
        self.init(accessKeyID: "ZONAL" + SHA256.hash(data: Array(secret.utf8)).hex.prefix(15).uppercased(), secretAccessKey: secret)
    }

    /// Where the root secret of Zonal object store `store` lives under a state directory.
    public static func zonalStoreSecretFile(store: String, stateDirectory: String) -> String {
        "\(URL(fileURLWithPath: stateDirectory).standardizedFileURL.path)/\(store)/s3.secret"
    }

    /// The `AWS_*` variables of a credentials file, one `NAME=value` a line (blank lines and `#`
    /// comments allowed), as a process environment: what a program that must not inherit keys
    /// through its environment (PostgreSQL's archive command) reads instead. A file others can
    /// read is refused.
    public static func environment(file: String) throws(BackupError) -> [String: String] {
        if case .failure(let error) = SecretFile.checkPrivate(file) { throw .invalid("\(error)") }
        let bytes: [UInt8]
        do { bytes = try DurableFile.readAll(file) } catch { throw .io(error.description) }
        var environment: [String: String] = [:]
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard let equals = text.firstIndex(of: "="), text[..<equals].hasPrefix("AWS_") else {
                throw .invalid("\(file) line \(number + 1): expected AWS_NAME=value")
            }
            environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return environment
    }

    /// These credentials and `region` as the variables ``init(environment:)`` reads.
    public func environment(region: String) -> [String: String] {
        var variables = ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_DEFAULT_REGION": region]
        variables["AWS_SESSION_TOKEN"] = sessionToken
        return variables
    }

    /// These credentials and `region` as the lines ``environment(file:)`` reads.
    public func environmentFileText(region: String) -> String {
        environment(region: region).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
    }
}
