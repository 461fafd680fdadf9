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

    /// Whether `self` supersedes `other` of the same key.
    public func isNewer(than other: ObjectVersion) -> Bool {
        versionID > other.versionID
    }
}

/// Version ids: 16 hex digits of the write's time in microseconds, then 16 random ones. Ids of
/// writes more than a clock's skew apart sort by time; two writes of the same microsecond by
/// chance — either way every replica picks the same winner.
public enum VersionID {
    public static func make(at date: Date, random: UInt64) -> String {
        let micros = UInt64(max(0, date.timeIntervalSince1970 * 1_000_000))
        return hex16(micros) + hex16(random)
    }

    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy(\.isLowerHexDigit)
    }

    private static func hex16(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
