import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Multipart uploads: create, upload a part (or copy one), list parts and uploads, complete
/// (the object refers to its parts, nothing is copied) and abort.
extension S3Gateway {
    /// S3's smallest part but the last: 5 MiB.
    static let minimumPartSize: Int64 = 5 << 20

    func createMultipartUpload(_ address: S3Operation.ObjectAddress, _ request: S3Request) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(address.bucket)
        let upload = try await uploads.create(try newVersion(address, in: bucket, metadataFrom: request))
        var xml = S3XML()
        xml.element("InitiateMultipartUploadResult", root: true) { xml in
            xml.value("Bucket", address.bucket)
            xml.value("Key", address.key)
            xml.value("UploadId", upload.id)
        }
        return Self.xml(xml)
    }

    func uploadPart(
        _ address: S3Operation.ObjectAddress, upload id: String, part: Int, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated,
        body: RequestBody
    ) async throws(S3Error) -> Response {
        let upload = try await uploads.upload(id, bucket: address.bucket, key: address.key)
        let version = try await store(partTemplate(upload, part), request, identity, body: body)
        var headers: HTTPFields = [.eTag: "\"\(version.etag)\""]
        if let checksum = version.checksum { headers[HTTPField.Name(checksum.algorithm.headerName)!] = checksum.base64 }
        return Response(status: .ok, headers: headers)
    }

    func uploadPartCopy(
        _ address: S3Operation.ObjectAddress, upload id: String, part: Int, from source: S3Operation.ObjectAddress, _ request: S3Request
    ) async throws(S3Error) -> Response {
        let upload = try await uploads.upload(id, bucket: address.bucket, key: address.key)
        _ = try await requireBucket(source.bucket)
        let (original, holders) = try await readable(source)
        try Self.copyConditions(request).check(original)
        var range: ClosedRange<Int64>?
        if let text = request.header("x-amz-copy-source-range") {
            guard let parsed = try? S3Request(method: "GET", rawPath: "/", headers: [("range", text)]),
                let wanted = try ReadConditions(parsed).byteRange(size: original.size),
                text.hasPrefix("bytes="), !text.dropFirst(6).hasPrefix("-")
            else { throw S3Error(.invalidArgument, "x-amz-copy-source-range must be bytes=first-last within the source object") }
            range = wanted
        }
        let version = try await copy(original, range: range, holders: holders, into: partTemplate(upload, part))
        var xml = S3XML()
        xml.element("CopyPartResult", root: true) { xml in
            xml.value("LastModified", date: version.lastModified)
            xml.value("ETag", "\"\(version.etag)\"")
        }
        return Self.xml(xml)
    }

    func listParts(_ address: S3Operation.ObjectAddress, upload id: String, _ request: S3Request) async throws(S3Error) -> Response {
        let upload = try await uploads.upload(id, bucket: address.bucket, key: address.key)
        let maxParts = try Self.count(request, "max-parts")
        let marker = try request.queryValue("part-number-marker").map { text throws(S3Error) in
            guard let number = Int(text), (0...S3Limits.parts).contains(number) else {
                throw S3Error(.invalidArgument, "part-number-marker must be a part number")
            }
            return number
        }
        let start = marker.flatMap { $0 > 0 ? PartReference.key(upload: id, number: $0) : nil }
        var page = ListingPage(prefix: "\(id)/", delimiter: nil, maxKeys: maxParts, startAfter: start)
        if maxParts > 0 { try await fill(&page, bucket: ObjectVersion.uploadsNamespace(of: upload.bucket), from: Array((start ?? "").utf8)) }
        var xml = S3XML()
        xml.element("ListPartsResult", root: true) { xml in
            xml.value("Bucket", address.bucket)
            xml.value("Key", address.key)
            xml.value("UploadId", id)
            xml.value("PartNumberMarker", marker ?? 0)
            if let last = page.contents.last.flatMap({ Self.partNumber(ofKey: $0.key) }) { xml.value("NextPartNumberMarker", last) }
            xml.value("MaxParts", maxParts)
            xml.value("IsTruncated", page.isTruncated)
            xml.value("StorageClass", "STANDARD")
            owner(&xml)
            for part in page.contents {
                xml.element("Part") { xml in
                    xml.value("PartNumber", Self.partNumber(ofKey: part.key) ?? 0)
                    xml.value("LastModified", date: part.lastModified)
                    xml.value("ETag", "\"\(part.etag)\"")
                    xml.value("Size", part.size)
                }
            }
        }
        return Self.xml(xml)
    }

    func completeMultipartUpload(
        _ address: S3Operation.ObjectAddress, upload id: String, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, body: RequestBody
    ) async throws(S3Error) -> Response {
        let upload = try await uploads.upload(id, bucket: address.bucket, key: address.key)
        let document = try XMLElementTree.parse(try await smallBody(body, identity))
        guard document.localName == "CompleteMultipartUpload" else {
            throw S3Error(.malformedXML, "the document's root element must be CompleteMultipartUpload")
        }
        let listed = try document.children("Part").map { part throws(S3Error) -> (Int, String) in
            guard let number = part.child("PartNumber").flatMap({ Int($0.text.trimmingCharacters(in: .whitespaces)) }), (1...S3Limits.parts).contains(number),
                let etag = part.child("ETag")?.text
            else { throw S3Error(.malformedXML, "each Part needs a PartNumber from 1 to \(S3Limits.parts) and an ETag") }
            return (number, etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")))
        }
        guard !listed.isEmpty else { throw S3Error(.malformedXML, "a CompleteMultipartUpload document names at least one Part") }
        guard zip(listed, listed.dropFirst()).allSatisfy({ $0.0 < $1.0 }) else { throw S3Error(.invalidPartOrder) }
        let namespace = ObjectVersion.uploadsNamespace(of: upload.bucket)
        var parts: [PartReference] = []
        var md5s: [UInt8] = []
        for (index, (number, etag)) in listed.enumerated() {
            let key = PartReference.key(upload: id, number: number)
            guard let (part, _) = try await objects.newest(bucket: namespace, key: key), !part.isDeleteMarker, part.etag == etag else {
                throw S3Error(.invalidPart, "Part \(number) was not uploaded or its ETag is not \(etag)")
            }
            if index < listed.count - 1, part.size < Self.minimumPartSize {
                throw S3Error(.entityTooSmall, "Part \(number) is \(part.size) bytes; every part but the last must be at least 5 MiB")
            }
            parts.append(PartReference(number: number, key: key, versionID: part.versionID, size: part.size, etag: part.etag))
            md5s += [UInt8](hex: part.etag) ?? []
        }
        let bucket = try await requireBucket(address.bucket)
        var version = try newVersion(address, in: bucket, metadataFrom: request)
        version.contentType = upload.contentType
        version.userMetadata = upload.userMetadata
        version.headers = upload.headers
        version.tags = upload.tags
        version.size = parts.reduce(0) { $0 + $1.size }
        version.etag = Insecure.MD5.hash(data: md5s).hex + "-\(parts.count)"
        version.parts = parts
        // Claim the upload first: an expiry (or an abort) that removed it has removed its parts.
        guard try await uploads.remove(upload) else { throw S3Error(.noSuchUpload, "The specified multipart upload does not exist: \(id)") }
        do {
            try await objects.record(version)
        } catch {
            await uploads.restore(upload)
            throw error
        }
        await removeUnused(upload, keeping: Set(parts.map(\.key)))
        var xml = S3XML()
        xml.element("CompleteMultipartUploadResult", root: true) { xml in
            xml.value("Location", "/\(address.bucket)/\(address.key)")
            xml.value("Bucket", address.bucket)
            xml.value("Key", address.key)
            xml.value("ETag", "\"\(version.etag)\"")
        }
        return Self.xml(xml)
    }

    func abortMultipartUpload(_ address: S3Operation.ObjectAddress, upload id: String) async throws(S3Error) -> Response {
        let upload = try await uploads.upload(id, bucket: address.bucket, key: address.key)
        _ = try await uploads.remove(upload)
        await objects.removeKeys(bucket: ObjectVersion.uploadsNamespace(of: upload.bucket), prefix: "\(id)/")
        return Response(status: .noContent)
    }

    func listMultipartUploads(_ bucket: String, _ request: S3Request) async throws(S3Error) -> Response {
        _ = try await requireBucket(bucket)
        let prefix = request.queryValue("prefix") ?? ""
        let maxUploads = try Self.count(request, "max-uploads")
        let matching = try await uploads.all(bucket: bucket).filter { $0.key.utf8.starts(with: prefix.utf8) }
        let shown = matching.prefix(maxUploads)
        var xml = S3XML()
        xml.element("ListMultipartUploadsResult", root: true) { xml in
            xml.value("Bucket", bucket)
            xml.value("KeyMarker", "")
            xml.value("UploadIdMarker", "")
            xml.value("Prefix", prefix)
            xml.value("MaxUploads", maxUploads)
            xml.value("IsTruncated", shown.count < matching.count)
            if shown.count < matching.count, let last = shown.last {
                xml.value("NextKeyMarker", last.key)
                xml.value("NextUploadIdMarker", last.id)
            }
            for upload in shown {
                xml.element("Upload") { xml in
                    xml.value("Key", upload.key)
                    xml.value("UploadId", upload.id)
                    owner(&xml)
                    xml.value("StorageClass", "STANDARD")
                    xml.value("Initiated", date: upload.initiated)
                }
            }
        }
        return Self.xml(xml)
    }

    // MARK: Helpers

    /// A new version of part `number` of `upload`.
    private func partTemplate(_ upload: MultipartUploads.Upload, _ number: Int) -> ObjectVersion {
        let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
        return ObjectVersion(
            bucket: ObjectVersion.uploadsNamespace(of: upload.bucket), key: PartReference.key(upload: upload.id, number: number),
            versionID: VersionID.make(at: now, random: .random(in: 0...UInt64.max)), lastModified: now)
    }

    /// Removes the parts of a completed upload that the object does not use.
    private func removeUnused(_ upload: MultipartUploads.Upload, keeping used: Set<String>) async {
        let namespace = ObjectVersion.uploadsNamespace(of: upload.bucket)
        var page = ListingPage(prefix: "\(upload.id)/", delimiter: nil, maxKeys: S3Limits.parts, startAfter: nil)
        guard (try? await fill(&page, bucket: namespace, from: [])) != nil else { return }
        for part in page.contents where !used.contains(part.key) {
            await objects.removeKeys(bucket: namespace, prefix: part.key)
        }
    }

    static func partNumber(ofKey key: String) -> Int? {
        key.split(separator: "/").last.flatMap { Int($0) }
    }

    /// A `max-parts` or `max-uploads` count: 0 to 1,000 (more is capped, as S3 does).
    static func count(_ request: S3Request, _ name: String) throws(S3Error) -> Int {
        guard let text = request.queryValue(name) else { return S3Limits.listPage }
        guard let value = Int(text), value >= 0 else { throw S3Error(.invalidArgument, "\(name) must be a number from 0") }
        return min(value, S3Limits.listPage)
    }
}
