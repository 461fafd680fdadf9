/// Merges the key listings of several replicas into one that misses no acknowledged write: each
/// node lists the newest version it has of each key, in byte order, a page at a time. The merge
/// keeps the newest version of each key and is only sure of keys up to the last key of the
/// shortest truncated page; the caller continues from ``Merged/resumeAfter``.
public enum ListingMerge {
    /// One node's page: newest version per key, keys ascending by UTF-8 bytes.
    public struct Page: Sendable, Hashable, Codable {
        public var versions: [ObjectVersion]
        /// Whether the node has more keys after the last one.
        public var truncated: Bool

        public init(versions: [ObjectVersion], truncated: Bool) {
            self.versions = versions
            self.truncated = truncated
        }
    }

    public struct Merged: Sendable, Hashable {
        /// Newest version of each key up to the boundary, delete markers included.
        public var versions: [ObjectVersion]
        /// Where the next round starts (exclusive); nil when every node is exhausted.
        public var resumeAfter: [UInt8]?
    }

    /// A place in a listing of every version: a key and, within it, a version; what follows it
    /// is the key's older versions, then the next keys. Without a version: after the whole key.
    public struct Position: Sendable, Hashable, Codable {
        public var key: [UInt8]
        public var versionID: String?

        public init(key: [UInt8], versionID: String?) {
            self.key = key
            self.versionID = versionID
        }

        init(_ version: ObjectVersion) {
            self.init(key: Array(version.key.utf8), versionID: version.versionID)
        }
    }

    /// Whether `a` comes before `b` in a listing of versions: keys ascending by bytes, each
    /// key's versions newest first.
    static func precedes(_ a: ObjectVersion, _ b: ObjectVersion) -> Bool {
        a.key == b.key ? a.isNewer(than: b) : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
    }

    /// Merges pages of every version (``precedes(_:_:)`` order) from several nodes: each version
    /// once, up to the earliest last version of a truncated page, where the next round resumes.
    public static func mergeVersions(_ pages: [Page]) -> (versions: [ObjectVersion], resumeAfter: Position?) {
        let boundary = pages.filter(\.truncated).compactMap(\.versions.last).min(by: precedes)
        var seen: Set<String> = []
        var versions: [ObjectVersion] = []
        for page in pages {
            for version in page.versions {
                if let boundary, precedes(boundary, version) { break }
                if seen.insert("\(version.versionID)\u{0}\(version.key)").inserted { versions.append(version) }
            }
        }
        return (versions.sorted(by: precedes), boundary.map(Position.init))
    }

    public static func merge(_ pages: [Page]) -> Merged {
        let boundary = pages.filter(\.truncated).compactMap { $0.versions.last.map { Array($0.key.utf8) } }.min { $0.lexicographicallyPrecedes($1) }
        var newest: [String: ObjectVersion] = [:]
        for page in pages {
            for version in page.versions {
                if let boundary, boundary.lexicographicallyPrecedes(version.key.utf8) { break }
                if let known = newest[version.key], !version.isNewer(than: known) { continue }
                newest[version.key] = version
            }
        }
        let versions = newest.values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return Merged(versions: versions, resumeAfter: boundary)
    }
}

/// Builds one page of an S3 listing from merged versions: delete markers hidden (unless the
/// page lists every version), keys under a `delimiter` after the prefix folded into common
/// prefixes, at most `maxKeys` entries (versions and prefixes together), as S3 counts them.
public struct ListingPage: Sendable, Hashable {
    public let prefix: String
    public let delimiter: String?
    public let maxKeys: Int
    /// A page of ListObjectVersions: every version of a key is an entry, delete markers too.
    public let allVersions: Bool
    /// Where the listing started (a marker, start-after or continuation): a common prefix equal
    /// to it was returned on an earlier page and is skipped.
    public let startAfter: String?
    public private(set) var contents: [ObjectVersion] = []
    public private(set) var commonPrefixes: [String] = []
    /// Set once the page is full and something followed: the listing is truncated.
    public private(set) var isTruncated = false

    /// The last entry taken: a version's key and id, or a common prefix (no id).
    public private(set) var lastEntry: ListingMerge.Position?

    public init(prefix: String, delimiter: String?, maxKeys: Int, startAfter: String?, allVersions: Bool = false) {
        self.prefix = prefix
        self.delimiter = delimiter.flatMap { $0.isEmpty ? nil : $0 }
        self.maxKeys = maxKeys
        self.startAfter = startAfter
        self.allVersions = allVersions
    }

    public var isFull: Bool { contents.count + commonPrefixes.count >= maxKeys }

    /// The last key or prefix on the page: where the next page starts.
    public var last: String? {
        let key = contents.last?.key
        let folded = commonPrefixes.last
        guard let key else { return folded }
        guard let folded else { return key }
        return key.utf8.lexicographicallyPrecedes(folded.utf8) ? folded : key
    }

    /// The common prefix the page is inside of, whose keys the caller may skip at the nodes.
    public var openPrefix: String? { commonPrefixes.last }

    /// Adds the next merged version; returns false once the page is full (the version was not
    /// taken and the listing is truncated).
    public mutating func add(_ version: ObjectVersion) -> Bool {
        guard version.key.utf8.starts(with: prefix.utf8), allVersions || !version.isDeleteMarker else { return true }
        if let folded = commonPrefix(of: version.key) {
            if folded == commonPrefixes.last || folded == startAfter { return true }
            guard !isFull else {
                isTruncated = true
                return false
            }
            commonPrefixes.append(folded)
            lastEntry = .init(key: Array(folded.utf8), versionID: nil)
            return true
        }
        guard !isFull else {
            isTruncated = true
            return false
        }
        contents.append(version)
        lastEntry = .init(version)
        return true
    }

    private func commonPrefix(of key: String) -> String? {
        guard let delimiter else { return nil }
        let rest = key.utf8.dropFirst(prefix.utf8.count)
        let marker = Array(delimiter.utf8)
        guard let range = Self.firstRange(of: marker, in: Array(rest)) else { return nil }
        return String(decoding: Array(key.utf8.prefix(prefix.utf8.count + range.upperBound)), as: UTF8.self)
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start..<(start + needle.count)
        }
        return nil
    }
}
