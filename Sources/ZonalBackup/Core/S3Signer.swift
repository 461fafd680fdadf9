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
        let canonicalRequest = [
            method,
            Self.encodePath(path),
            Self.encodeQuery(query),
            names.map { "\($0):\(signed[$0]!)\n" }.joined(),
            names.joined(separator: ";"),
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, SHA256.hash(data: Array(canonicalRequest.utf8)).hex].joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        let signature = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key).hex
        signed["authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope),"
            + "SignedHeaders=\(names.joined(separator: ";")),Signature=\(signature)"
        return signed
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
    static func encode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
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

    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
    }
}
