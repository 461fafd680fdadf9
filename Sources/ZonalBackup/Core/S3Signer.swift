import Crypto
import Foundation
import ZonalCore

/// Signs S3 requests with AWS Signature Version 4, the scheme every S3-compatible server
/// checks. Pure: the same request, credentials and time give the same signature, so it is
/// tested against the examples AWS publishes.
public struct S3Signer: Sendable {
    public var credentials: S3Credentials
    public var region: String
    /// `s3` for storage requests; other AWS-style APIs (IAM, for one) sign the same way.
    public var service: String

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// SHA-256 of an empty body, which every bodiless request signs.
    public static let emptyPayloadHash = payloadHash([])

    /// What `x-amz-content-sha256` carries for `body`: its SHA-256 in hex.
    public static func payloadHash(_ body: [UInt8]) -> String {
        SHA256.hash(data: body).hex
    }

    /// The headers to send with the request, `authorization` among them. `headers` must hold
    /// `host` and whatever else is sent (all of it is signed); `path` is the unencoded path.
    public func sign(
        method: String, path: String, query: [String: String], headers: [String: String], payloadHash: String, date: Date
    ) -> [String: String] {
        let timestamp = Self.timestamp(date)
        let day = String(timestamp.prefix(8))
        var signed = Dictionary(headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) }) { $1 }
        signed["x-amz-date"] = timestamp
        signed["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let names = signed.keys.sorted()
        let canonicalRequest = Self.canonicalRequest(
            method: method, canonicalPath: Self.encodePath(path), canonicalQuery: Self.encodeQuery(query),
            headers: names.map { ($0, signed[$0]!) }, payloadHash: payloadHash)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let key = Self.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        let signature = Self.signature(Self.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonicalRequest), key: key)
        signed["authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope),"
            + "SignedHeaders=\(names.joined(separator: ";")),Signature=\(signature)"
        return signed
    }

    /// The canonical request of Signature V4: `headers` are lower-case names with trimmed values,
    /// sorted by name, and all of them are signed.
    public static func canonicalRequest(
        method: String, canonicalPath: String, canonicalQuery: String, headers: [(name: String, value: String)], payloadHash: String
    ) -> String {
        [
            method,
            canonicalPath,
            canonicalQuery,
            headers.map { "\($0.name):\($0.value)\n" }.joined(),
            headers.map(\.name).joined(separator: ";"),
            payloadHash,
        ].joined(separator: "\n")
    }

    /// What is signed: the algorithm, the time, the scope and the canonical request's digest.
    public static func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp, scope, SHA256.hash(data: Array(canonicalRequest.utf8)).hex].joined(separator: "\n")
    }

    /// The key of one day, region and service, derived from the secret by HMAC.
    public static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    /// The hex HMAC of `text` under `key`: a request's signature, or a chunk's.
    public static func signature(_ text: String, key: SymmetricKey) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key).hex
    }

    /// The query string as sent and as signed: names and values percent-encoded, sorted by name.
    public static func encodeQuery(_ query: [String: String]) -> String {
        query.map { (encode($0.key), encode($0.value)) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The path as sent and as signed: each segment percent-encoded, slashes kept.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    /// RFC 3986 encoding: everything but letters, digits and `-._~` as %XX of its UTF-8 bytes.
    public static func encode(_ text: String) -> String {
        encode(bytes: text.utf8)
    }

    /// ``encode(_:)`` of raw bytes, which need not be UTF-8; `/` kept when `keepingSlashes`.
    public static func encode(bytes: some Sequence<UInt8>, keepingSlashes: Bool = false) -> String {
        var encoded = ""
        for byte in bytes {
            if keepingSlashes && byte == UInt8(ascii: "/") {
                encoded.unicodeScalars.append("/")
                continue
            }
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    /// `20261202T164620Z`: the form of `x-amz-date`.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
    }
}
