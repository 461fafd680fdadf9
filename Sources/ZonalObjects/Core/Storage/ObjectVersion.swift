import Foundation

/// One version of an object as every replica records it: what a GET returns in its headers and
/// what the replicas and the listing merge compare. The version id orders versions: a later
/// write has a greater id (``VersionID``), so replicas that missed a write converge on the newest.
public struct ObjectVersion: Sendable, Hashable, Codable {
    public var bucket: String
    public var key: String
    public var versionID: String
    /// A delete marker: the key is gone as of this version (kept so that a replica which missed
    /// the delete cannot bring the object back in a merged listing).
    public var isDeleteMarker: Bool
    public var size: Int64
    /// S3's ETag without quotes: the MD5 of the content in hex.
    public var etag: String
    /// SHA-256 of the content in hex: what each replica's blocks add up to.
    public var sha256: String
    public var lastModified: Date
    public var contentType: String?
    /// `x-amz-meta-*` without the prefix, lower-case names.
    public var userMetadata: [String: String]
    /// Content-Encoding, Content-Disposition, Cache-Control, Content-Language, Expires as given.
    public var headers: [String: String]
    /// An `x-amz-checksum-<algorithm>` the client sent, verified: algorithm and base64 value.
    public var checksum: PayloadChecksum.Value?
    /// For an object completed from a multipart upload: its parts, in order, each a replicated
    /// version of its own in the bucket's uploads namespace. The object's bytes are theirs.
    public var parts: [PartReference]?
    /// Written while the bucket kept versions (versioning enabled): the version stays when later
    /// ones are written. Nil (or false) for the key's *null* version — every version of a bucket
    /// that never had versioning, and those written while it was suspended — which the next null
    /// version replaces.
    public var versioned: Bool?
    /// The object's tags (`x-amz-tagging`, PutObjectTagging); nil for none.
    public var tags: [String: String]?
    /// A record that only says "this version was deleted for good" (a DELETE with its version
    /// id): replicas keep it so that none that missed the delete can bring the version back.
    public var isPurged: Bool?

    public init(
        bucket: String, key: String, versionID: String, isDeleteMarker: Bool = false, size: Int64 = 0, etag: String = "", sha256: String = "",
        lastModified: Date, contentType: String? = nil, userMetadata: [String: String] = [:], headers: [String: String] = [:],
        checksum: PayloadChecksum.Value? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.isDeleteMarker = isDeleteMarker
        self.size = size
        self.etag = etag
        self.sha256 = sha256
        self.lastModified = lastModified
        self.contentType = contentType
        self.userMetadata = userMetadata
        self.headers = headers
        self.checksum = checksum
    }

    /// The part replicas of a multipart upload live in a namespace of their own next to the
    /// bucket: `~` is in no bucket name, so no listing of a bucket ever meets them.
    public static func uploadsNamespace(of bucket: String) -> String {
        "\(bucket)~uploads"
    }

    /// Whether `namespace` is the parts namespace of some bucket.
    public static func isUploadsNamespace(_ namespace: String) -> Bool {
        namespace.hasSuffix("~uploads")
    }

    /// The version id S3 clients see: the id, or `null` for a null version.
    public var externalID: String { versioned == true ? versionID : VersionID.null }

    /// Whether `self` supersedes `other` of the same key.
    public func isNewer(than other: ObjectVersion) -> Bool {
        versionID > other.versionID
    }
}

/// One part of a completed multipart upload.
public struct PartReference: Sendable, Hashable, Codable {
    public var number: Int
    /// The part's key in ``ObjectVersion/uploadsNamespace(of:)``: `<upload id>/<number, 5 digits>`.
    public var key: String
    public var versionID: String
    public var size: Int64
    public var etag: String

    public init(number: Int, key: String, versionID: String, size: Int64, etag: String) {
        self.number = number
        self.key = key
        self.versionID = versionID
        self.size = size
        self.etag = etag
    }

    /// The key of part `number` of `upload`.
    public static func key(upload: String, number: Int) -> String {
        let digits = String(number)
        return "\(upload)/" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}

/// Version ids: 16 hex digits of the write's time in microseconds, then 16 random ones. Ids of
/// writes more than a clock's skew apart sort by time; two writes of the same microsecond by
/// chance — either way every replica picks the same winner.
public enum VersionID {
    /// What S3 calls the version of an object written without versioning.
    public static let null = "null"

    public static func make(at date: Date, random: UInt64) -> String {
        let micros = UInt64(max(0, date.timeIntervalSince1970 * 1_000_000))
        return hex16(micros) + hex16(random)
    }

    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy(\.isLowerHexDigit)
    }

    /// When the version with id `text` was written, from its first 16 digits; nil for no id.
    public static func date(of text: String) -> Date? {
        guard isValid(text), let micros = UInt64(text.prefix(16), radix: 16) else { return nil }
        return Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    private static func hex16(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
