import Foundation

/// The parts of a GET or HEAD that depend on the version found: `Range` and the conditional
/// headers, evaluated in RFC 9110's order (If-Match, If-Unmodified-Since, If-None-Match,
/// If-Modified-Since), as S3 does.
public struct ReadConditions: Sendable, Hashable {
    public var ifMatch: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: Date?
    public var ifUnmodifiedSince: Date?
    public var range: String?

    public init(_ request: S3Request) {
        ifMatch = request.header("if-match")
        ifNoneMatch = request.header("if-none-match")
        ifModifiedSince = request.header("if-modified-since").flatMap(HTTPDate.parse)
        ifUnmodifiedSince = request.header("if-unmodified-since").flatMap(HTTPDate.parse)
        range = request.header("range")
    }

    /// Throws `PreconditionFailed` or `NotModified` when the version does not qualify.
    public func check(_ version: ObjectVersion) throws(S3Error) {
        let modified = version.lastModified.timeIntervalSince1970.rounded(.down)
        if let ifMatch {
            guard Self.matches(ifMatch, etag: version.etag) else { throw S3Error(.preconditionFailed) }
        } else if let ifUnmodifiedSince, modified > ifUnmodifiedSince.timeIntervalSince1970 {
            throw S3Error(.preconditionFailed)
        }
        if let ifNoneMatch {
            if Self.matches(ifNoneMatch, etag: version.etag) { throw S3Error(.notModified) }
        } else if let ifModifiedSince, modified <= ifModifiedSince.timeIntervalSince1970 {
            throw S3Error(.notModified)
        }
    }

    /// The bytes to send of an object of `size`: nil for all of it. One range only, as S3.
    public func byteRange(size: Int64) throws(S3Error) -> ClosedRange<Int64>? {
        guard let range else { return nil }
        guard range.hasPrefix("bytes="), !range.contains(",") else { return nil }
        let spec = range.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix > 0 else { return nil }
            guard size > 0 else { throw S3Error(.invalidRange) }
            return max(0, size - suffix)...(size - 1)
        }
        guard let first = Int64(parts[0]), first >= 0 else { return nil }
        guard first < size else { throw S3Error(.invalidRange, "The requested range starts at \(first), beyond the object's \(size) bytes") }
        if parts[1].isEmpty { return first...(size - 1) }
        guard let last = Int64(parts[1]), last >= first else { return nil }
        return first...min(last, size - 1)
    }

    private static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            let trimmed = candidate.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == etag
        }
    }
}
