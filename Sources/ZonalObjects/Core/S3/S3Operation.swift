/// What a request asks for, read from its method, bucket, key and sub-resource: the front end's
/// one routing decision, made before any storage node is asked.
public enum S3Operation: Sendable, Hashable {
    case listBuckets
    case createBucket(bucket: String)
    case headBucket(bucket: String)
    case deleteBucket(bucket: String)
    case getBucketLocation(bucket: String)
    case getBucketVersioning(bucket: String)
    case putBucketVersioning(bucket: String)
    case listObjects(bucket: String, version: ListVersion)
    case listObjectVersions(bucket: String)
    case deleteObjects(bucket: String)
    case putObject(ObjectAddress)
    case copyObject(ObjectAddress, source: ObjectAddress)
    case getObject(ObjectAddress)
    case headObject(ObjectAddress)
    case deleteObject(ObjectAddress)
    case getObjectTagging(ObjectAddress)
    case putObjectTagging(ObjectAddress)
    case deleteObjectTagging(ObjectAddress)
    case createMultipartUpload(ObjectAddress)
    case uploadPart(ObjectAddress, upload: String, part: Int)
    case uploadPartCopy(ObjectAddress, upload: String, part: Int, source: ObjectAddress)
    case listParts(ObjectAddress, upload: String)
    case completeMultipartUpload(ObjectAddress, upload: String)
    case abortMultipartUpload(ObjectAddress, upload: String)
    case listMultipartUploads(bucket: String)

    /// ListObjects (`marker`) or ListObjectsV2 (`continuation-token`).
    public enum ListVersion: Sendable, Hashable {
        case v1
        case v2
    }

    /// A bucket, a checked key and, when the request names one (`?versionId=`, or in
    /// `x-amz-copy-source`), a version: a version id or `null`.
    public struct ObjectAddress: Sendable, Hashable, CustomStringConvertible {
        public var bucket: String
        public var key: String
        public var versionID: String?

        public init(bucket: String, key: String, versionID: String? = nil) {
            self.bucket = bucket
            self.key = key
            self.versionID = versionID
        }

        public var description: String { "\(bucket)/\(key)" + (versionID.map { "?versionId=\($0)" } ?? "") }
    }

    /// The bucket the operation works on; nil for ListBuckets.
    public var bucket: String? {
        switch self {
        case .listBuckets: nil
        case .createBucket(let bucket), .headBucket(let bucket), .deleteBucket(let bucket), .getBucketLocation(let bucket),
            .getBucketVersioning(let bucket), .putBucketVersioning(let bucket), .listObjects(let bucket, _), .listObjectVersions(let bucket),
            .deleteObjects(let bucket), .listMultipartUploads(let bucket):
            bucket
        case .putObject(let address), .copyObject(let address, _), .getObject(let address), .headObject(let address), .deleteObject(let address),
            .getObjectTagging(let address), .putObjectTagging(let address), .deleteObjectTagging(let address), .createMultipartUpload(let address),
            .uploadPart(let address, _, _), .uploadPartCopy(let address, _, _, _), .listParts(let address, _),
            .completeMultipartUpload(let address, _), .abortMultipartUpload(let address, _):
            address.bucket
        }
    }
}

/// Finds the operation of a request: bucket and key from the path (`/bucket/key`) or, when the
/// `Host` is `<bucket>.<domain>` of a configured domain, from the host (virtual-host style).
public struct S3Router: Sendable {
    /// Base domains of virtual-host-style addressing (`s3.zonal.test`); empty: path style only.
    public var domains: [String]

    public init(domains: [String] = []) {
        self.domains = domains.map { $0.lowercased() }
    }

    /// Sub-resources of S3 this store does not have; asking for one is `NotImplemented`, never
    /// a silent read of the object instead.
    static let unsupportedSubresources: Set<String> = [
        "acl", "policy", "policyStatus", "cors", "lifecycle", "logging", "notification", "replication", "website", "encryption",
        "ownershipControls", "publicAccessBlock", "requestPayment", "accelerate", "analytics", "inventory", "metrics",
        "intelligent-tiering", "object-lock", "legal-hold", "retention", "torrent", "restore", "select", "attributes",
    ]

    public func route(_ request: S3Request) throws(S3Error) -> S3Operation {
        guard let path = request.decodedPath, path.first == UInt8(ascii: "/") else {
            throw S3Error(.invalidArgument, "the request path is not an absolute path or holds a broken %-escape")
        }
        var bucket: String?
        var keyBytes: ArraySlice<UInt8>
        if let hosted = virtualHostBucket(request.header("host")) {
            bucket = hosted
            keyBytes = path.dropFirst()
        } else {
            let rest = path.dropFirst()
            let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let name = rest[rest.startIndex..<slash]
            bucket = name.isEmpty ? nil : String(decoding: name, as: UTF8.self)
            keyBytes = slash < rest.endIndex ? rest[(slash + 1)...] : []
        }
        if let subresource = request.query.first(where: { Self.unsupportedSubresources.contains($0.name) })?.name {
            throw S3Error(.notImplemented, "the `\(subresource)` sub-resource is not implemented by this store")
        }
        guard let bucket else {
            guard request.method == "GET" else { throw S3Error(.methodNotAllowed) }
            return .listBuckets
        }
        try ObjectName.validateBucket(bucket)
        if keyBytes.isEmpty { return try bucketOperation(request, bucket: bucket) }
        var address = S3Operation.ObjectAddress(bucket: bucket, key: try ObjectName.validateKey(Array(keyBytes)))
        if let versionID = request.queryValue("versionId") { address.versionID = try Self.versionID(versionID) }
        return try objectOperation(request, address)
    }

    private func bucketOperation(_ request: S3Request, bucket: String) throws(S3Error) -> S3Operation {
        if request.hasQuery("tagging") { throw S3Error(.notImplemented, "tags of buckets are not implemented by this store; objects have them") }
        switch request.method {
        case "PUT" where request.hasQuery("versioning"): return .putBucketVersioning(bucket: bucket)
        case "PUT": return .createBucket(bucket: bucket)
        case "HEAD": return .headBucket(bucket: bucket)
        case "DELETE": return .deleteBucket(bucket: bucket)
        case "POST" where request.hasQuery("delete"): return .deleteObjects(bucket: bucket)
        case "GET" where request.hasQuery("uploads"): return .listMultipartUploads(bucket: bucket)
        case "GET" where request.hasQuery("versions"): return .listObjectVersions(bucket: bucket)
        case "GET":
            if request.hasQuery("location") { return .getBucketLocation(bucket: bucket) }
            if request.hasQuery("versioning") { return .getBucketVersioning(bucket: bucket) }
            return .listObjects(bucket: bucket, version: request.queryValue("list-type") == "2" ? .v2 : .v1)
        default: throw S3Error(.methodNotAllowed)
        }
    }

    private func objectOperation(_ request: S3Request, _ address: S3Operation.ObjectAddress) throws(S3Error) -> S3Operation {
        if let upload = request.queryValue("uploadId") {
            guard Self.isUploadID(upload) else { throw S3Error(.noSuchUpload, "The specified multipart upload does not exist: \(upload)") }
            switch request.method {
            case "PUT":
                let part = try Self.partNumber(request)
                guard let source = request.header("x-amz-copy-source") else { return .uploadPart(address, upload: upload, part: part) }
                return .uploadPartCopy(address, upload: upload, part: part, source: try Self.copySource(source))
            case "GET": return .listParts(address, upload: upload)
            case "POST": return .completeMultipartUpload(address, upload: upload)
            case "DELETE": return .abortMultipartUpload(address, upload: upload)
            default: throw S3Error(.methodNotAllowed)
            }
        }
        if request.hasQuery("partNumber") {
            // A read of one part of an object: the part number is checked here, the part at
            // the front end.
            _ = try Self.partNumber(request)
            guard request.method == "GET" || request.method == "HEAD" else {
                throw S3Error(.invalidRequest, "partNumber without uploadId is for GET and HEAD only")
            }
        }
        if request.hasQuery("tagging") {
            switch request.method {
            case "GET": return .getObjectTagging(address)
            case "PUT": return .putObjectTagging(address)
            case "DELETE": return .deleteObjectTagging(address)
            default: throw S3Error(.methodNotAllowed)
            }
        }
        switch request.method {
        case "POST" where request.hasQuery("uploads"): return .createMultipartUpload(address)
        case "PUT":
            guard let source = request.header("x-amz-copy-source") else { return .putObject(address) }
            return .copyObject(address, source: try Self.copySource(source))
        case "GET": return .getObject(address)
        case "HEAD": return .headObject(address)
        case "DELETE": return .deleteObject(address)
        default: throw S3Error(.methodNotAllowed)
        }
    }

    /// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, percent-encoded, optionally with
    /// `?versionId=` of the version to copy.
    static func copySource(_ header: String) throws(S3Error) -> S3Operation.ObjectAddress {
        var text = Substring(header)
        var versionID: String?
        if let question = text.firstIndex(of: "?") {
            let query = text[text.index(after: question)...]
            guard query.hasPrefix("versionId=") else { throw S3Error(.invalidArgument, "x-amz-copy-source may only carry ?versionId=") }
            versionID = try Self.versionID(String(query.dropFirst("versionId=".count)))
            text = text[..<question]
        }
        if text.hasPrefix("/") { text = text.dropFirst() }
        guard let bytes = PercentEncoding.decode(text, plusIsSpace: false), let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            throw S3Error(.invalidArgument, "x-amz-copy-source must be bucket/key, percent-encoded")
        }
        let bucket = String(decoding: bytes[..<slash], as: UTF8.self)
        try ObjectName.validateBucket(bucket)
        return .init(bucket: bucket, key: try ObjectName.validateKey(Array(bytes[(slash + 1)...])), versionID: versionID)
    }

    /// A version id as a client may send it: one this store made, or `null`.
    static func versionID(_ text: String) throws(S3Error) -> String {
        guard text == VersionID.null || VersionID.isValid(text) else { throw S3Error(.invalidArgument, "Invalid version id specified") }
        return text
    }

    /// Upload ids are 32 lower-case hex digits (``MultipartUploads``); anything else names none.
    static func isUploadID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy(\.isLowerHexDigit)
    }

    static func partNumber(_ request: S3Request) throws(S3Error) -> Int {
        guard let text = request.queryValue("partNumber"), let number = Int(text), (1...S3Limits.parts).contains(number) else {
            throw S3Error(.invalidArgument, "Part number must be an integer between 1 and \(S3Limits.parts), inclusive")
        }
        return number
    }

    private func virtualHostBucket(_ host: String?) -> String? {
        guard let host, !domains.isEmpty else { return nil }
        var name = host.lowercased()
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        for domain in domains where name.hasSuffix("." + domain) {
            return String(name.dropLast(domain.count + 1))
        }
        return nil
    }
}

extension S3Operation {
    /// The operation's name in metrics and logs: S3's own (`PutObject`).
    public var metricName: String {
        switch self {
        case .listBuckets: "ListBuckets"
        case .createBucket: "CreateBucket"
        case .headBucket: "HeadBucket"
        case .deleteBucket: "DeleteBucket"
        case .getBucketLocation: "GetBucketLocation"
        case .getBucketVersioning: "GetBucketVersioning"
        case .putBucketVersioning: "PutBucketVersioning"
        case .listObjects(_, .v1): "ListObjects"
        case .listObjectVersions: "ListObjectVersions"
        case .listObjects(_, .v2): "ListObjectsV2"
        case .deleteObjects: "DeleteObjects"
        case .putObject: "PutObject"
        case .copyObject: "CopyObject"
        case .getObject: "GetObject"
        case .headObject: "HeadObject"
        case .deleteObject: "DeleteObject"
        case .getObjectTagging: "GetObjectTagging"
        case .putObjectTagging: "PutObjectTagging"
        case .deleteObjectTagging: "DeleteObjectTagging"
        case .createMultipartUpload: "CreateMultipartUpload"
        case .uploadPart: "UploadPart"
        case .uploadPartCopy: "UploadPartCopy"
        case .listParts: "ListParts"
        case .completeMultipartUpload: "CompleteMultipartUpload"
        case .abortMultipartUpload: "AbortMultipartUpload"
        case .listMultipartUploads: "ListMultipartUploads"
        }
    }
}
