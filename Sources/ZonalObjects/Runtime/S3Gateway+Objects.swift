import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Object operations: put (raw, signed or `aws-chunked`), get and head with ranges and
/// conditions, copy, delete one and delete many — each of a given version when asked.
extension S3Gateway {
    /// Headers stored with an object and returned as given.
    static let storedHeaders = ["content-encoding", "content-disposition", "cache-control", "content-language", "expires"]

    func putObject(_ address: S3Operation.ObjectAddress, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, body: RequestBody)
        async throws(S3Error) -> Response
    {
        let bucket = try await requireBucket(address.bucket)
        var template = try newVersion(address, in: bucket, metadataFrom: request)
        if let kept = try keptIdentity(request, identity) { (template.versionID, template.lastModified) = kept }
        let version = try await store(template, request, identity, body: body)
        var headers: HTTPFields = [.eTag: "\"\(version.etag)\""]
        if let checksum = version.checksum { headers[HTTPField.Name(checksum.algorithm.headerName)!] = checksum.base64 }
        Self.addVersionID(of: version, in: bucket, to: &headers)
        return Response(status: .ok, headers: headers)
    }

    /// Writes the request's body as a new version of `template`, every digest the client sent
    /// checked before any replica is committed.
    func store(_ template: ObjectVersion, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, body: RequestBody) async throws(S3Error)
        -> ObjectVersion
    {
        let length = try Self.declaredLength(request, identity.payload)
        if let length, length > maxObjectSize { throw S3Error(.entityTooLarge, "the object's \(length) bytes exceed this store's limit of \(maxObjectSize)") }
        let expectedMD5 = try Self.contentMD5(request)
        let (algorithm, headerChecksum) = try Self.requestedChecksum(request)
        let payload = PayloadBody(body: body, payload: identity.payload)
        let version = try await objects.put(template, body: payload, length: length, maxSize: maxObjectSize, checksum: algorithm) { digests throws(S3Error) in
            guard payload.outcome.finished else { throw S3Error(.incompleteBody) }
            if let length, digests.size != length { throw S3Error(.incompleteBody, "the body held \(digests.size) bytes, not the \(length) declared") }
            if case .sha256(let expected) = identity.payload, digests.sha256 != expected { throw S3Error(.xAmzContentSHA256Mismatch) }
            if let expectedMD5, expectedMD5 != digests.md5 { throw S3Error(.badDigest, "The Content-MD5 you specified did not match what we received.") }
            if let algorithm {
                let sent = headerChecksum ?? payload.outcome.trailers[algorithm.headerName]
                guard let sent else { throw S3Error(.invalidRequest, "the \(algorithm.headerName) trailer announced in x-amz-trailer did not come") }
                if sent != digests.checksum?.base64 {
                    throw S3Error(.badDigest, "The \(algorithm.rawValue) checksum you specified did not match what we received.")
                }
            }
        }
        return version
    }

    func getObject(_ address: S3Operation.ObjectAddress, _ request: S3Request, head: Bool) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(address.bucket)
        let (version, holders) = try await readable(address)
        let conditions = ReadConditions(request)
        try conditions.check(version)
        var range = try conditions.byteRange(size: version.size)
        var partsCount: Int?
        if let text = request.queryValue("partNumber"), let number = Int(text) {
            guard request.header("range") == nil else { throw S3Error(.invalidRequest, "Cannot specify both Range header and partNumber query parameter") }
            (range, partsCount) = try Self.part(number, of: version)
        }
        var headers = Self.objectHeaders(version, request, whole: range == nil)
        Self.addVersionID(of: version, in: bucket, to: &headers)
        if let partsCount { headers[HTTPField.Name("x-amz-mp-parts-count")!] = "\(partsCount)" }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? version.size
        headers[.contentLength] = "\(length)"
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(version.size)" }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard !head else { return Response(status: status, headers: headers) }
        let bytes = objects.bytes(of: version, range: range, holders: holders)
        return Response(
            status: status, headers: headers,
            body: ResponseBody(contentLength: Int(length)) { writer in
                for try await buffer in bytes { try await writer.write(buffer) }
                try await writer.finish(nil)
            })
    }

    func copyObject(_ address: S3Operation.ObjectAddress, from source: S3Operation.ObjectAddress, _ request: S3Request) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(address.bucket)
        _ = try await requireBucket(source.bucket)
        let (original, holders) = try await readable(source)
        try Self.copyConditions(request).check(original)
        var template: ObjectVersion
        switch request.header("x-amz-metadata-directive")?.uppercased() ?? "COPY" {
        case "COPY":
            guard address != source else {
                throw S3Error(
                    .invalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.")
            }
            template = try newVersion(address, in: bucket, metadataFrom: request)
            template.contentType = original.contentType
            template.userMetadata = original.userMetadata
            template.headers = original.headers
        case "REPLACE":
            template = try newVersion(address, in: bucket, metadataFrom: request)
        default:
            throw S3Error(.invalidArgument, "x-amz-metadata-directive must be COPY or REPLACE")
        }
        switch request.header("x-amz-tagging-directive")?.uppercased() ?? "COPY" {
        case "COPY": template.tags = original.tags
        case "REPLACE": break
        default: throw S3Error(.invalidArgument, "x-amz-tagging-directive must be COPY or REPLACE")
        }
        let version = try await copy(original, range: nil, holders: holders, into: template)
        var xml = S3XML()
        xml.element("CopyObjectResult", root: true) { xml in
            xml.value("LastModified", date: version.lastModified)
            xml.value("ETag", "\"\(version.etag)\"")
        }
        var response = Self.xml(xml)
        Self.addVersionID(of: version, in: bucket, to: &response.headers)
        if source.versionID != nil { response.headers[HTTPField.Name("x-amz-copy-source-version-id")!] = original.externalID }
        return response
    }

    func deleteObject(_ address: S3Operation.ObjectAddress, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated) async throws(S3Error)
        -> Response
    {
        let outcome = try await remove(address, in: try await requireBucket(address.bucket), kept: try keptIdentity(request, identity))
        var headers: HTTPFields = [:]
        if let versionID = outcome.versionID { headers[HTTPField.Name("x-amz-version-id")!] = versionID }
        if outcome.deleteMarker { headers[HTTPField.Name("x-amz-delete-marker")!] = "true" }
        return Response(status: .noContent, headers: headers)
    }

    func getObjectTagging(_ address: S3Operation.ObjectAddress) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(address.bucket)
        let (version, _) = try await readable(address)
        var response = Self.xml(ObjectTags.document(version.tags ?? [:]))
        Self.addVersionID(of: version, in: bucket, to: &response.headers)
        return response
    }

    /// Replaces the tags of the version `address` names (the newest without a version id) on its
    /// replicas; nil `tags` removes them.
    func setObjectTagging(_ address: S3Operation.ObjectAddress, _ tags: [String: String]?) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(address.bucket)
        var (version, _) = try await readable(address)
        version.tags = tags
        try await objects.retag(version)
        var headers: HTTPFields = [:]
        Self.addVersionID(of: version, in: bucket, to: &headers)
        return Response(status: tags == nil ? .noContent : .ok, headers: headers)
    }

    /// What a delete did: the version it wrote (a delete marker) or removed for good, as S3
    /// reports it.
    struct DeleteOutcome {
        /// The version id to report; nil in a bucket that never had versioning.
        var versionID: String?
        /// Whether the delete wrote a delete marker, or removed one.
        var deleteMarker: Bool
    }

    /// Deletes `address`: with a version id that version for good (a purge record stays on
    /// its replicas), else by writing a delete marker, which a versioned bucket keeps beside the
    /// earlier versions — with the id and time of `kept` when a replicator sent them.
    func remove(_ address: S3Operation.ObjectAddress, in bucket: BucketDirectory.Bucket, kept: (String, Date)? = nil) async throws(S3Error)
        -> DeleteOutcome
    {
        if let versionID = address.versionID {
            guard let (version, _) = try await objects.version(bucket: address.bucket, key: address.key, versionID: versionID) else {
                return DeleteOutcome(versionID: versionID, deleteMarker: false)
            }
            try await objects.purge(version)
            return DeleteOutcome(versionID: versionID, deleteMarker: version.isDeleteMarker)
        }
        let marker = try await objects.delete(
            bucket: address.bucket, key: address.key, at: kept?.1 ?? Date(), versioned: bucket.keepsVersions, versionID: kept?.0)
        return DeleteOutcome(versionID: bucket.versioning == nil ? nil : marker.externalID, deleteMarker: bucket.versioning != nil)
    }

    /// The version of `address` a read is about: the one it names, or the newest; S3's errors
    /// for none, a delete marker as the newest (`NoSuchKey`) or as the one named (405).
    func readable(_ address: S3Operation.ObjectAddress) async throws(S3Error) -> (ObjectVersion, [StorageNodeClient]) {
        guard let versionID = address.versionID else {
            guard let (version, holders) = try await objects.newest(bucket: address.bucket, key: address.key), !version.isDeleteMarker else {
                throw S3Error(.noSuchKey, "The specified key does not exist: \(address)")
            }
            return (version, holders)
        }
        guard let (version, holders) = try await objects.version(bucket: address.bucket, key: address.key, versionID: versionID) else {
            throw S3Error(.noSuchVersion, "The specified version does not exist: \(address)")
        }
        guard !version.isDeleteMarker else { throw S3Error(.methodNotAllowed, "The specified method is not allowed against a delete marker: \(address)") }
        return (version, holders)
    }

    /// The bytes of part `number` of `version` (nil: the whole object) and the number of parts of
    /// a multipart object; an object written in one piece is its own part 1.
    static func part(_ number: Int, of version: ObjectVersion) throws(S3Error) -> (ClosedRange<Int64>?, Int?) {
        guard let parts = version.parts else {
            guard number == 1 else { throw S3Error(.invalidPartNumber, "the object was written in one part; part \(number) does not exist") }
            return (nil, nil)
        }
        guard number <= parts.count else { throw S3Error(.invalidPartNumber, "the object has \(parts.count) parts, not \(number)") }
        let start = parts.prefix(number - 1).reduce(Int64(0)) { $0 + $1.size }
        let size = parts[number - 1].size
        guard size > 0 else { throw S3Error(.invalidPartNumber, "part \(number) of the object is empty") }
        return (start...(start + size - 1), parts.count)
    }

    /// `x-amz-version-id` of `version`, in a bucket that has (or had) versioning.
    static func addVersionID(of version: ObjectVersion, in bucket: BucketDirectory.Bucket, to headers: inout HTTPFields) {
        guard bucket.versioning != nil else { return }
        headers[HTTPField.Name("x-amz-version-id")!] = version.externalID
    }

    func deleteObjects(_ bucket: String, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, body: RequestBody) async throws(S3Error)
        -> Response
    {
        let document = try await smallBody(body, identity)
        if let expectedMD5 = try Self.contentMD5(request), expectedMD5 != Insecure.MD5.hash(data: document).hex { throw S3Error(.badDigest) }
        let delete = try XMLElementTree.parse(document)
        guard delete.localName == "Delete" else { throw S3Error(.malformedXML, "the document's root element must be Delete") }
        let quiet = delete.child("Quiet")?.text.lowercased() == "true"
        let objects = delete.children("Object")
        guard !objects.isEmpty, objects.count <= S3Limits.deleteBatch else {
            throw S3Error(.malformedXML, "a DeleteObjects request names 1 to \(S3Limits.deleteBatch) objects")
        }
        let bucketRecord = try await requireBucket(bucket)
        var xml = S3XML()
        var results: [(key: String, versionID: String?, outcome: Result<DeleteOutcome, S3Error>)] = []
        for object in objects {
            guard let key = object.child("Key")?.text else { throw S3Error(.malformedXML, "an Object of the Delete document has no Key") }
            let versionID = object.child("VersionId")?.text
            do throws(S3Error) {
                var address = S3Operation.ObjectAddress(bucket: bucket, key: try ObjectName.validateKey(Array(key.utf8)))
                address.versionID = try versionID.map { text throws(S3Error) in try S3Router.versionID(text) }
                results.append((key, versionID, .success(try await remove(address, in: bucketRecord))))
            } catch {
                results.append((key, versionID, .failure(error)))
            }
        }
        xml.element("DeleteResult", root: true) { xml in
            for (key, versionID, outcome) in results {
                switch outcome {
                case .failure(let error):
                    xml.element("Error") { xml in
                        xml.value("Key", key)
                        if let versionID { xml.value("VersionId", versionID) }
                        xml.value("Code", error.code.rawValue)
                        xml.value("Message", error.message)
                    }
                case .success(let deleted) where !quiet:
                    xml.element("Deleted") { xml in
                        xml.value("Key", key)
                        if let versionID { xml.value("VersionId", versionID) }
                        if deleted.deleteMarker {
                            xml.value("DeleteMarker", true)
                            if versionID == nil, let marker = deleted.versionID { xml.value("DeleteMarkerVersionId", marker) }
                        }
                    }
                case .success: break
                }
            }
        }
        return Self.xml(xml)
    }

    // MARK: Helpers

    /// Writes the bytes of `original` in `range` as a new version of `template`.
    func copy(_ original: ObjectVersion, range: ClosedRange<Int64>?, holders: [StorageNodeClient], into template: ObjectVersion) async throws(S3Error)
        -> ObjectVersion
    {
        let bytes = objects.bytes(of: original, range: range, holders: holders)
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? original.size
        return try await objects.put(template, body: bytes, length: length, maxSize: maxObjectSize, checksum: nil) { digests throws(S3Error) in
            guard digests.size == length, range != nil || original.parts != nil || digests.sha256 == original.sha256 else {
                throw S3Error(.internalError, "the copy source changed or broke off while it was read")
            }
        }
    }

    /// The version id and time a replicator asks a write to keep (``ReplicaHeaders``): only the
    /// root key may, since they decide which version is the newest.
    func keptIdentity(_ request: S3Request, _ identity: RequestAuthenticator.Authenticated) throws(S3Error) -> (String, Date)? {
        guard let versionID = request.header(ReplicaHeaders.versionID) else { return nil }
        guard identity.accessKey == keys.root.accessKeyID else {
            throw S3Error(.accessDenied, "only the store's root key may set \(ReplicaHeaders.versionID)")
        }
        guard VersionID.isValid(versionID) else {
            throw S3Error(.invalidArgument, "\(ReplicaHeaders.versionID) must be a version id (32 lower-case hex digits)")
        }
        guard let text = request.header(ReplicaHeaders.lastModified), let millis = Int64(text), (0...253_402_300_799_999).contains(millis) else {
            throw S3Error(.invalidArgument, "\(ReplicaHeaders.lastModified) must be milliseconds since 1970 (up to the year 9999)")
        }
        return (versionID, Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// A version record for a write of `address` now, with the request's content type, user
    /// metadata and stored headers; versioned when the bucket keeps versions.
    func newVersion(_ address: S3Operation.ObjectAddress, in bucket: BucketDirectory.Bucket, metadataFrom request: S3Request) throws(S3Error)
        -> ObjectVersion
    {
        var metadata: [String: String] = [:]
        var metadataBytes = 0
        for (name, value) in request.headers where name.hasPrefix("x-amz-meta-") {
            let key = String(name.dropFirst("x-amz-meta-".count))
            metadataBytes += key.utf8.count + value.utf8.count
            metadata[key] = metadata[key].map { "\($0),\(value)" } ?? value
        }
        guard metadataBytes <= S3Limits.userMetadataBytes else {
            throw S3Error(.invalidArgument, "Your metadata headers exceed the maximum allowed metadata size of \(S3Limits.userMetadataBytes) bytes")
        }
        var headers: [String: String] = [:]
        for name in Self.storedHeaders { headers[name] = request.header(name) }
        let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
        var version = ObjectVersion(
            bucket: address.bucket, key: address.key, versionID: VersionID.make(at: now, random: .random(in: 0...UInt64.max)), lastModified: now,
            contentType: request.header("content-type"), userMetadata: metadata, headers: headers)
        version.versioned = bucket.keepsVersions ? true : nil
        if let tagging = request.header("x-amz-tagging") { version.tags = try ObjectTags.parse(header: tagging).nilIfEmpty }
        return version
    }

    /// The headers of a GET or HEAD; the stored checksum only when the whole object is sent
    /// (a client checks it against the bytes it gets).
    static func objectHeaders(_ version: ObjectVersion, _ request: S3Request, whole: Bool) -> HTTPFields {
        var headers: HTTPFields = [
            .eTag: "\"\(version.etag)\"", .lastModified: HTTPDate.format(version.lastModified), .acceptRanges: "bytes",
            .contentType: version.contentType ?? "binary/octet-stream",
        ]
        for (name, value) in version.headers { headers[HTTPField.Name(name)!] = value }
        if let tags = version.tags, !tags.isEmpty { headers[HTTPField.Name("x-amz-tagging-count")!] = "\(tags.count)" }
        for (name, value) in version.userMetadata {
            if let field = HTTPField.Name("x-amz-meta-\(name)") { headers[field] = value }
        }
        if whole, let checksum = version.checksum, request.header("x-amz-checksum-mode")?.uppercased() == "ENABLED" {
            headers[HTTPField.Name(checksum.algorithm.headerName)!] = checksum.base64
        }
        let overrides = [
            ("response-content-type", "content-type"), ("response-content-disposition", "content-disposition"), ("response-cache-control", "cache-control"),
            ("response-content-encoding", "content-encoding"), ("response-content-language", "content-language"), ("response-expires", "expires"),
        ]
        for (parameter, header) in overrides {
            if let value = request.queryValue(parameter), let name = HTTPField.Name(header) { headers[name] = value }
        }
        return headers
    }

    /// The body's length as declared: Content-Length, or for `aws-chunked` the decoded length.
    static func declaredLength(_ request: S3Request, _ payload: RequestAuthenticator.Payload) throws(S3Error) -> Int64? {
        switch payload {
        case .signedChunks, .unsignedChunks:
            guard let text = request.header("x-amz-decoded-content-length"), let length = Int64(text), length >= 0 else {
                throw S3Error(.missingContentLength, "an aws-chunked upload needs x-amz-decoded-content-length")
            }
            return length
        case .sha256, .unsigned:
            guard let text = request.header("content-length") else { return nil }
            guard let length = Int64(text), length >= 0 else { throw S3Error(.invalidArgument, "Content-Length is not a number of bytes") }
            return length
        }
    }

    /// Content-MD5 as hex; nil when not sent.
    static func contentMD5(_ request: S3Request) throws(S3Error) -> String? {
        guard let text = request.header("content-md5") else { return nil }
        guard let bytes = Data(base64Encoded: text), bytes.count == 16 else { throw S3Error(.invalidDigest, "The Content-MD5 you specified is not valid.") }
        return bytes.hex
    }

    /// The additional checksum the client asks to be checked, and its value when in a header
    /// (nil when it comes in the trailer).
    static func requestedChecksum(_ request: S3Request) throws(S3Error) -> (PayloadChecksum.Algorithm?, String?) {
        for algorithm in PayloadChecksum.Algorithm.allCases {
            if let value = request.header(algorithm.headerName) { return (algorithm, value) }
        }
        if let trailer = request.header("x-amz-trailer") {
            guard let algorithm = PayloadChecksum.Algorithm(headerName: trailer.lowercased().trimmingCharacters(in: .whitespaces)) else {
                throw S3Error(.invalidRequest, "x-amz-trailer names \(trailer), which is not a checksum this store computes (crc32, crc32c, sha1, sha256)")
            }
            return (algorithm, nil)
        }
        if let name = request.headers.first(where: {
            $0.name.hasPrefix("x-amz-checksum-") && $0.name != "x-amz-checksum-mode" && $0.name != "x-amz-checksum-type"
        })?.name {
            throw S3Error(.invalidRequest, "\(name) is not a checksum this store computes (crc32, crc32c, sha1, sha256)")
        }
        return (nil, nil)
    }

    /// `x-amz-copy-source-if-*` read as the conditions of a read of the source.
    static func copyConditions(_ request: S3Request) -> ReadConditions {
        let renamed = request.headers.compactMap { header -> (name: String, value: String)? in
            guard header.name.hasPrefix("x-amz-copy-source-if-") else { return nil }
            return ("if-" + header.name.dropFirst("x-amz-copy-source-if-".count), header.value)
        }
        let conditions = (try? S3Request(method: "GET", rawPath: "/", headers: renamed)).map(ReadConditions.init)
        return conditions ?? ReadConditions(request)
    }
}
