import Crypto
import Foundation
import ZonalBackup
import ZonalCore

/// Checks AWS Signature Version 4 on a request — in the `Authorization` header or in the query
/// of a presigned URL — against the secret of the access key it names. Pure: the request, the
/// key lookup and the time go in, the caller's identity and how to read the body come out, so
/// every refusal is tested with fixed times and AWS's published examples.
public struct RequestAuthenticator: Sendable {
    /// The region requests must be signed for (the credential scope's region).
    public var region: String
    public static let service = "s3"

    public init(region: String) {
        self.region = region
    }

    /// Who sent a request and what its body is.
    public struct Authenticated: Sendable {
        public var accessKey: String
        public var payload: Payload
    }

    /// What `x-amz-content-sha256` said of the body.
    public enum Payload: Sendable, Equatable {
        /// The body's SHA-256, to be checked once it has been read.
        case sha256(String)
        /// Not signed (`UNSIGNED-PAYLOAD`, and every presigned URL).
        case unsigned
        /// `aws-chunked`: each chunk carries a signature chained from the request's.
        case signedChunks(ChunkSigning)
        /// `aws-chunked` without signatures, a checksum in the trailer.
        case unsignedChunks
    }

    /// What a chunk signature is computed from.
    public struct ChunkSigning: Sendable, Equatable {
        public var timestamp: String
        public var scope: String
        public var seedSignature: String
        public var key: SymmetricKey
        /// Whether a signed trailer follows the last chunk.
        public var trailer: Bool

        public init(timestamp: String, scope: String, seedSignature: String, key: SymmetricKey, trailer: Bool) {
            self.timestamp = timestamp
            self.scope = scope
            self.seedSignature = seedSignature
            self.key = key
            self.trailer = trailer
        }

        public static func == (lhs: ChunkSigning, rhs: ChunkSigning) -> Bool {
            lhs.timestamp == rhs.timestamp && lhs.scope == rhs.scope && lhs.seedSignature == rhs.seedSignature && lhs.trailer == rhs.trailer
        }
    }

    /// The signature's parts, wherever they were.
    struct Signed {
        var accessKey: String
        var day: String
        var region: String
        var service: String
        var signedHeaders: [String]
        var signature: String
        var timestamp: String
        var payloadHash: String
        var presigned: Bool

        var scope: String { "\(day)/\(region)/\(service)/aws4_request" }
    }

    /// The identity behind `request`, or the S3 error a client gets. `secret` finds an access
    /// key's secret (nil: no such key).
    public func authenticate(_ request: S3Request, now: Date, secret: (String) -> String?) throws(S3Error) -> Authenticated {
        let signed = try signedParts(of: request)
        guard signed.service == Self.service else {
            throw S3Error(.authorizationHeaderMalformed, "the credential is scoped to service \(signed.service), not s3")
        }
        guard signed.region == region else {
            throw S3Error(.authorizationHeaderMalformed, "the credential is scoped to region \(signed.region); this store is region \(region)")
        }
        guard let requestTime = Self.parseTimestamp(signed.timestamp), signed.timestamp.hasPrefix(signed.day) else {
            throw S3Error(.accessDenied, "the request time (x-amz-date) is malformed or not of the credential's day")
        }
        if signed.presigned {
            try checkExpiry(request, signedAt: requestTime, now: now)
        } else if abs(now.timeIntervalSince(requestTime)) > Double(S3Limits.clockSkewSeconds) {
            throw S3Error(.requestTimeTooSkewed)
        }
        guard let secretKey = secret(signed.accessKey) else { throw S3Error(.invalidAccessKeyID) }
        let key = S3Signer.signingKey(secret: secretKey, day: signed.day, region: signed.region, service: signed.service)
        let canonical = try canonicalRequest(request, signed)
        let expected = S3Signer.signature(S3Signer.stringToSign(timestamp: signed.timestamp, scope: signed.scope, canonicalRequest: canonical), key: key)
        guard ConstantTime.equal(expected: expected, presented: signed.signature) else { throw S3Error(.signatureDoesNotMatch) }
        return Authenticated(accessKey: signed.accessKey, payload: try payload(signed, key: key))
    }

    private func payload(_ signed: Signed, key: SymmetricKey) throws(S3Error) -> Payload {
        if signed.presigned { return .unsigned }
        switch signed.payloadHash {
        case "UNSIGNED-PAYLOAD": return .unsigned
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": return .unsignedChunks
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
            return .signedChunks(
                ChunkSigning(
                    timestamp: signed.timestamp, scope: signed.scope, seedSignature: signed.signature, key: key,
                    trailer: signed.payloadHash.hasSuffix("-TRAILER")))
        case let hash where hash.utf8.count == 64 && hash.utf8.allSatisfy(\.isLowerHexDigit):
            return .sha256(hash)
        default:
            throw S3Error(.invalidArgument, "x-amz-content-sha256 is neither a SHA-256 in hex nor a payload mode this store knows")
        }
    }

    private func checkExpiry(_ request: S3Request, signedAt: Date, now: Date) throws(S3Error) {
        guard let text = request.queryValue("X-Amz-Expires"), let seconds = Int(text), (1...S3Limits.presignedExpirySeconds).contains(seconds) else {
            throw S3Error(.authorizationQueryParametersError, "X-Amz-Expires must be a number of seconds from 1 to \(S3Limits.presignedExpirySeconds)")
        }
        if now.timeIntervalSince(signedAt) > Double(seconds) { throw S3Error(.accessDenied, "Request has expired") }
        if signedAt.timeIntervalSince(now) > Double(S3Limits.clockSkewSeconds) { throw S3Error(.accessDenied, "Request is not valid yet") }
    }

    /// The access key id a request says it is signed with, before anything is checked.
    public func accessKeyID(of request: S3Request) -> String? {
        try? signedParts(of: request).accessKey
    }

    private func signedParts(of request: S3Request) throws(S3Error) -> Signed {
        if let header = request.header("authorization") { return try Self.parseHeader(header, request) }
        if request.queryValue("X-Amz-Algorithm") != nil { return try Self.parseQuery(request) }
        throw S3Error(.accessDenied, "the request is not signed; this store serves no anonymous requests")
    }

    /// `AWS4-HMAC-SHA256 Credential=AK/day/region/s3/aws4_request, SignedHeaders=a;b, Signature=hex`
    static func parseHeader(_ header: String, _ request: S3Request) throws(S3Error) -> Signed {
        guard header.hasPrefix("AWS4-HMAC-SHA256 ") else {
            throw S3Error(.authorizationHeaderMalformed, "only AWS4-HMAC-SHA256 signatures are accepted (Signature Version 2 is not)")
        }
        var fields: [String: String] = [:]
        for part in header.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw S3Error(.authorizationHeaderMalformed, "the Authorization header has a part that is not name=value") }
            fields[String(pair[0])] = String(pair[1])
        }
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw S3Error(.authorizationHeaderMalformed, "the Authorization header needs Credential, SignedHeaders and Signature")
        }
        guard let timestamp = request.header("x-amz-date") else {
            throw S3Error(.accessDenied, "a signed request needs x-amz-date (the Date header is not accepted as the signing time)")
        }
        guard let payloadHash = request.header("x-amz-content-sha256") else {
            throw S3Error(.invalidRequest, "a signed request needs x-amz-content-sha256")
        }
        return try signed(
            credential: credential, signedHeaders: signedHeaders, signature: signature, timestamp: timestamp, payloadHash: payloadHash, presigned: false)
    }

    static func parseQuery(_ request: S3Request) throws(S3Error) -> Signed {
        guard request.queryValue("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" else {
            throw S3Error(.authorizationQueryParametersError, "X-Amz-Algorithm must be AWS4-HMAC-SHA256")
        }
        guard let credential = request.queryValue("X-Amz-Credential"), let signedHeaders = request.queryValue("X-Amz-SignedHeaders"),
            let signature = request.queryValue("X-Amz-Signature"), let timestamp = request.queryValue("X-Amz-Date")
        else {
            throw S3Error(.authorizationQueryParametersError, "a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature")
        }
        return try signed(
            credential: credential, signedHeaders: signedHeaders, signature: signature, timestamp: timestamp,
            payloadHash: request.queryValue("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD", presigned: true)
    }

    private static func signed(
        credential: String, signedHeaders: String, signature: String, timestamp: String, payloadHash: String, presigned: Bool
    ) throws(S3Error) -> Signed {
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard scope.count == 5, !scope[0].isEmpty, scope[4] == "aws4_request", scope[1].utf8.count == 8 else {
            throw S3Error(.authorizationHeaderMalformed, "the credential must be <access key>/<yyyymmdd>/<region>/s3/aws4_request")
        }
        let headers = signedHeaders.split(separator: ";").map(String.init)
        guard !headers.isEmpty, headers.contains("host"), headers == headers.sorted(), headers.count <= 64 else {
            throw S3Error(.authorizationHeaderMalformed, "SignedHeaders must name host and be sorted, lower-case, separated by ';'")
        }
        guard signature.utf8.count == 64, signature.utf8.allSatisfy(\.isLowerHexDigit) else {
            throw S3Error(.authorizationHeaderMalformed, "the signature must be 64 lower-case hex digits")
        }
        return Signed(
            accessKey: String(scope[0]), day: String(scope[1]), region: String(scope[2]), service: String(scope[3]), signedHeaders: headers,
            signature: signature, timestamp: timestamp, payloadHash: payloadHash, presigned: presigned)
    }

    private func canonicalRequest(_ request: S3Request, _ signed: Signed) throws(S3Error) -> String {
        guard let path = request.decodedPath else { throw S3Error(.invalidArgument, "the request path holds a broken %-escape") }
        var headers: [(name: String, value: String)] = []
        for name in signed.signedHeaders {
            guard let value = request.header(name) else {
                throw S3Error(.accessDenied, "the signed header \(name) is not in the request")
            }
            headers.append((name, Self.canonicalHeaderValue(value)))
        }
        let signedQuery = request.query.filter { !(signed.presigned && $0.name == "X-Amz-Signature") }
        let encoded: [(name: String, value: String)] = signedQuery.map { (S3Signer.encode($0.name), S3Signer.encode($0.value)) }
        let sorted = encoded.sorted { lhs, rhs in lhs.name == rhs.name ? lhs.value < rhs.value : lhs.name < rhs.name }
        let query = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        return S3Signer.canonicalRequest(
            method: request.method, canonicalPath: S3Signer.encode(bytes: path, keepingSlashes: true), canonicalQuery: query, headers: headers,
            payloadHash: signed.payloadHash)
    }

    /// Trimmed, inner runs of spaces folded to one, as SigV4 wants.
    static func canonicalHeaderValue(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// `20261202T164620Z` as a time; nil when malformed or out of range.
    static func parseTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            let digits = bytes[range]
            guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
            return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), (1970...9999).contains(year), (1...12).contains(month),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
    }
}

extension UInt8 {
    var isLowerHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
    }
}
