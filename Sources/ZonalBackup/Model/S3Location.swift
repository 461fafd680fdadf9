import Foundation

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

    static func isValidBucket(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
    }
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
