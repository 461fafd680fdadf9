/// An HTTP request as the S3 front end sees it before anything is trusted: the method, the path
/// and query exactly as sent (signatures cover them), and the headers with lower-case names.
/// Pure, so signing, routing and the limits are tested and fuzzed without sockets.
public struct S3Request: Sendable, Hashable {
    public var method: String
    /// The path as sent, percent-encoded: `/bucket/some%20key`.
    public var rawPath: String
    /// The query as sent, without `?`; empty when there is none.
    public var rawQuery: String
    /// Lower-case names, values as sent, in order; a name may repeat.
    public var headers: [(name: String, value: String)]
    /// The decoded query: names and values, in order.
    public let query: [(name: String, value: String)]

    public init(method: String, rawPath: String, rawQuery: String = "", headers: [(name: String, value: String)]) throws(S3Error) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        self.query = try Self.decodeQuery(rawQuery)
    }

    /// The value of `name` (lower-case), the values of a repeated header joined by commas.
    public func header(_ name: String) -> String? {
        let values = headers.filter { $0.name == name }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ",")
    }

    /// The value of the query parameter `name`; "" for one given without `=`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    public func hasQuery(_ name: String) -> Bool {
        query.contains { $0.name == name }
    }

    /// The path decoded to bytes; nil when a `%` escape is broken.
    public var decodedPath: [UInt8]? {
        PercentEncoding.decode(rawPath[...], plusIsSpace: false)
    }

    public static func == (lhs: S3Request, rhs: S3Request) -> Bool {
        lhs.method == rhs.method && lhs.rawPath == rhs.rawPath && lhs.rawQuery == rhs.rawQuery
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(rawPath)
        hasher.combine(rawQuery)
    }

    private static func decodeQuery(_ raw: String) throws(S3Error) -> [(name: String, value: String)] {
        guard !raw.isEmpty else { return [] }
        var items: [(name: String, value: String)] = []
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentEncoding.decodeText(parts[0]),
                let value = parts.count > 1 ? PercentEncoding.decodeText(parts[1]) : ""
            else { throw S3Error(.invalidArgument, "the query string holds a broken %-escape or bytes that are not UTF-8") }
            items.append((name: name, value: value))
        }
        guard items.count <= S3Limits.queryParameters else {
            throw S3Error(.invalidArgument, "the query string has more than \(S3Limits.queryParameters) parameters")
        }
        return items
    }
}

/// Fixed limits of the front end, S3's own where S3 has one.
public enum S3Limits {
    /// S3 caps keys at 1,024 bytes of UTF-8.
    public static let keyBytes = 1024
    /// S3's largest object written in one PUT: 5 GiB.
    public static let singlePutBytes: Int64 = 5 << 30
    /// The largest part of a multipart upload (5 GiB) and the most parts (10,000).
    public static let partBytes: Int64 = 5 << 30
    public static let parts = 10_000
    /// S3 lists at most 1,000 entries per page.
    public static let listPage = 1000
    /// Keys one DeleteObjects request may name.
    public static let deleteBatch = 1000
    /// User metadata (`x-amz-meta-*` names and values) S3 allows per object: 2 KiB.
    public static let userMetadataBytes = 2048
    /// Query parameters in one request; more is an attack, not a client.
    public static let queryParameters = 64
    /// Request bodies read whole (XML documents): 1 MiB, enough for 1,000 keys to delete.
    public static let xmlBodyBytes = 1 << 20
    /// How far a request's time may be from ours, as S3: 15 minutes.
    public static let clockSkewSeconds = 15 * 60
    /// The longest a presigned URL may live: 7 days, as S3.
    public static let presignedExpirySeconds = 7 * 24 * 3600
}

/// Percent-encoding of URLs as S3 clients produce it.
public enum PercentEncoding {
    /// The bytes `text` stands for; nil when a `%` is not followed by two hex digits.
    public static func decode(_ text: Substring, plusIsSpace: Bool) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return bytes
    }

    /// ``decode(_:plusIsSpace:)`` of a query part as text; nil when it is not UTF-8.
    public static func decodeText(_ text: Substring) -> String? {
        guard let bytes = decode(text, plusIsSpace: true) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
