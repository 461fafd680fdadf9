import Foundation
import Hummingbird
import ZonalBackup

/// ListObjects, ListObjectsV2 and ListObjectVersions: a quorum of the nodes' listings merged
/// page by page.
extension S3Gateway {
    func listObjects(_ bucket: String, _ version: S3Operation.ListVersion, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated)
        async throws(S3Error) -> Response
    {
        _ = try await requireBucket(bucket)
        let prefix = request.queryValue("prefix") ?? ""
        let delimiter = request.queryValue("delimiter")
        let maxKeys = try Self.maxKeys(request)
        let urlEncoded = try Self.urlEncoding(request)
        let start: String?
        switch version {
        case .v1: start = request.queryValue("marker")
        case .v2:
            if let token = request.queryValue("continuation-token") {
                guard let data = Data(base64Encoded: token), let key = String(data: data, encoding: .utf8) else {
                    throw S3Error(.invalidArgument, "The continuation token provided is incorrect")
                }
                start = key
            } else {
                start = request.queryValue("start-after")
            }
        }
        var page = ListingPage(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, startAfter: start.flatMap { $0.isEmpty ? nil : $0 })
        if maxKeys > 0 { try await fill(&page, bucket: bucket, from: Array((start ?? "").utf8)) }
        let encode: (String) -> String = { urlEncoded ? S3Signer.encode(bytes: $0.utf8, keepingSlashes: true) : $0 }
        var xml = S3XML()
        xml.element("ListBucketResult", root: true) { xml in
            xml.value("Name", bucket)
            xml.value("Prefix", encode(prefix))
            if let delimiter { xml.value("Delimiter", encode(delimiter)) }
            xml.value("MaxKeys", maxKeys)
            if urlEncoded { xml.value("EncodingType", "url") }
            xml.value("IsTruncated", page.isTruncated)
            switch version {
            case .v1:
                xml.value("Marker", encode(start ?? ""))
                if page.isTruncated, delimiter != nil, let last = page.last { xml.value("NextMarker", encode(last)) }
            case .v2:
                xml.value("KeyCount", page.contents.count + page.commonPrefixes.count)
                if let token = request.queryValue("continuation-token") { xml.value("ContinuationToken", token) }
                if let startAfter = request.queryValue("start-after") { xml.value("StartAfter", encode(startAfter)) }
                if page.isTruncated, let last = page.last { xml.value("NextContinuationToken", Data(last.utf8).base64EncodedString()) }
            }
            let withOwner = version == .v1 || request.queryValue("fetch-owner") == "true"
            for object in page.contents {
                xml.element("Contents") { xml in
                    xml.value("Key", encode(object.key))
                    xml.value("LastModified", date: object.lastModified)
                    xml.value("ETag", "\"\(object.etag)\"")
                    xml.value("Size", object.size)
                    xml.value("StorageClass", "STANDARD")
                    if withOwner { owner(&xml) }
                }
            }
            for prefix in page.commonPrefixes {
                xml.element("CommonPrefixes") { xml in xml.value("Prefix", encode(prefix)) }
            }
        }
        return Self.xml(xml)
    }

    /// Adds merged versions after `after` to `page` until it is full or the bucket ends.
    func fill(_ page: inout ListingPage, bucket: String, from after: [UInt8]) async throws(S3Error) {
        var cursor = after
        let prefix = Array(page.prefix.utf8)
        while true {
            let merged = try await objects.listingRound(bucket: bucket, prefix: prefix, after: cursor, limit: min(S3Limits.listPage, page.maxKeys) + 1)
            for version in merged.versions where !page.add(version) { return }
            guard let resume = merged.resumeAfter else { return }
            cursor = resume
            // Inside a common prefix, the nodes can skip its other keys.
            if let open = page.openPrefix, cursor.starts(with: open.utf8) {
                cursor = Array(open.utf8) + [0xFF]
            }
        }
    }

    func listObjectVersions(_ bucket: String, _ request: S3Request) async throws(S3Error) -> Response {
        _ = try await requireBucket(bucket)
        let prefix = request.queryValue("prefix") ?? ""
        let delimiter = request.queryValue("delimiter")
        let maxKeys = try Self.maxKeys(request)
        let urlEncoded = try Self.urlEncoding(request)
        let keyMarker = request.queryValue("key-marker").flatMap { $0.isEmpty ? nil : $0 }
        let versionMarker = request.queryValue("version-id-marker").flatMap { $0.isEmpty ? nil : $0 }
        if let versionMarker {
            guard keyMarker != nil else { throw S3Error(.invalidArgument, "A version-id marker cannot be specified without a key marker.") }
            _ = try S3Router.versionID(versionMarker)
        }
        // A marker this store handed out is a version's own id; `null` resumes after the key.
        let start = keyMarker.map { ListingMerge.Position(key: Array($0.utf8), versionID: versionMarker == VersionID.null ? nil : versionMarker) }
        var page = ListingPage(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, startAfter: keyMarker, allVersions: true)
        var cursor = start
        let prefixBytes = Array(prefix.utf8)
        while maxKeys > 0 {
            let round = try await objects.versionsRound(bucket: bucket, prefix: prefixBytes, after: cursor, limit: min(S3Limits.listPage, maxKeys) + 1)
            guard round.versions.allSatisfy({ page.add($0) }), var resume = round.resumeAfter else { break }
            // Inside a common prefix, the nodes can skip its other keys.
            if let open = page.openPrefix, resume.key.starts(with: open.utf8) { resume = .init(key: Array(open.utf8) + [0xFF], versionID: nil) }
            cursor = resume
        }
        let encode: (String) -> String = { urlEncoded ? S3Signer.encode(bytes: $0.utf8, keepingSlashes: true) : $0 }
        var xml = S3XML()
        xml.element("ListVersionsResult", root: true) { xml in
            xml.value("Name", bucket)
            xml.value("Prefix", encode(prefix))
            xml.value("KeyMarker", encode(keyMarker ?? ""))
            xml.value("VersionIdMarker", versionMarker ?? "")
            xml.value("MaxKeys", maxKeys)
            if let delimiter { xml.value("Delimiter", encode(delimiter)) }
            if urlEncoded { xml.value("EncodingType", "url") }
            xml.value("IsTruncated", page.isTruncated)
            if page.isTruncated, let last = page.lastEntry {
                xml.value("NextKeyMarker", encode(String(decoding: last.key, as: UTF8.self)))
                if let versionID = last.versionID { xml.value("NextVersionIdMarker", versionID) }
            }
            // A key's first version on the page is its latest, unless the page resumed inside it.
            var previousKey = start?.versionID != nil ? keyMarker : nil
            for version in page.contents {
                xml.element(version.isDeleteMarker ? "DeleteMarker" : "Version") { xml in
                    xml.value("Key", encode(version.key))
                    xml.value("VersionId", version.externalID)
                    xml.value("IsLatest", version.key != previousKey)
                    xml.value("LastModified", date: version.lastModified)
                    if !version.isDeleteMarker {
                        xml.value("ETag", "\"\(version.etag)\"")
                        xml.value("Size", version.size)
                        xml.value("StorageClass", "STANDARD")
                    }
                    owner(&xml)
                }
                previousKey = version.key
            }
            for prefix in page.commonPrefixes {
                xml.element("CommonPrefixes") { xml in xml.value("Prefix", encode(prefix)) }
            }
        }
        return Self.xml(xml)
    }

    static func maxKeys(_ request: S3Request) throws(S3Error) -> Int {
        guard let text = request.queryValue("max-keys") else { return S3Limits.listPage }
        guard let value = Int(text), value >= 0 else { throw S3Error(.invalidArgument, "max-keys must be a number from 0") }
        return min(value, S3Limits.listPage)
    }

    static func urlEncoding(_ request: S3Request) throws(S3Error) -> Bool {
        guard let type = request.queryValue("encoding-type") else { return false }
        guard type == "url" else { throw S3Error(.invalidArgument, "Invalid Encoding Method specified in Request") }
        return true
    }
}
