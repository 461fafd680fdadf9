/// What an access key other than the root key may do: per bucket (or `*`, every bucket), read
/// (list, get, head) or read and write (also put, copy into, delete, multipart uploads).
/// Creating and deleting buckets and setting their versioning stay with the root key.
public struct BucketGrant: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Access: String, Sendable, Hashable, Codable, CaseIterable {
        case read
        case readWrite = "read-write"
    }

    /// A bucket name, or `*` for every bucket.
    public var bucket: String
    public var access: Access

    public init(bucket: String, access: Access) {
        self.bucket = bucket
        self.access = access
    }

    /// `bucket` (read and write) or `bucket:read` / `bucket:read-write`, as `zonal objects
    /// keys create --bucket` takes it.
    public init(parsing text: String) throws(S3Error) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let bucket = parts.first else { throw S3Error(.invalidArgument, "a grant names a bucket (or *): BUCKET[:read|:read-write]") }
        if bucket != "*" { try ObjectName.validateBucket(bucket) }
        guard let access = parts.count == 2 ? Access(rawValue: parts[1]) : .readWrite else {
            throw S3Error(.invalidArgument, "the access of \(bucket) must be read or read-write, not \(parts[1])")
        }
        self.init(bucket: bucket, access: access)
    }

    public var description: String { "\(bucket):\(access.rawValue)" }

    func covers(_ name: String) -> Bool { bucket == "*" || bucket == name }
}

/// The rights of the key a request was signed with: every right for the root key, else its
/// grants. The one decision of whether a request may go on, made after routing and before
/// any storage node is asked.
public struct KeyRights: Sendable, Hashable {
    public var isRoot: Bool
    public var grants: [BucketGrant]

    public static let root = KeyRights(isRoot: true, grants: [])

    public init(isRoot: Bool, grants: [BucketGrant]) {
        self.isRoot = isRoot
        self.grants = grants
    }

    /// Whether the key may see `bucket` at all (in ListBuckets, for one).
    public func canRead(_ bucket: String) -> Bool {
        isRoot || grants.contains { $0.covers(bucket) }
    }

    public func canWrite(_ bucket: String) -> Bool {
        isRoot || grants.contains { $0.covers(bucket) && $0.access == .readWrite }
    }

    /// Throws `AccessDenied` unless the key may carry out `operation`.
    public func authorize(_ operation: S3Operation) throws(S3Error) {
        guard !isRoot else { return }
        let allowed: Bool
        switch operation {
        case .listBuckets: allowed = true
        case .createBucket, .deleteBucket, .putBucketVersioning: allowed = false
        case .headBucket(let bucket), .getBucketLocation(let bucket), .getBucketVersioning(let bucket), .listObjects(let bucket, _),
            .listObjectVersions(let bucket), .listMultipartUploads(let bucket):
            allowed = canRead(bucket)
        case .getObject(let address), .headObject(let address), .listParts(let address, _), .getObjectTagging(let address):
            allowed = canRead(address.bucket)
        case .deleteObjects(let bucket):
            allowed = canWrite(bucket)
        case .putObject(let address), .deleteObject(let address), .putObjectTagging(let address), .deleteObjectTagging(let address),
            .createMultipartUpload(let address), .uploadPart(let address, _, _),
            .completeMultipartUpload(let address, _), .abortMultipartUpload(let address, _):
            allowed = canWrite(address.bucket)
        case .copyObject(let address, let source), .uploadPartCopy(let address, _, _, let source):
            allowed = canWrite(address.bucket) && canRead(source.bucket)
        }
        guard allowed else { throw S3Error(.accessDenied, "this access key may not \(operation.metricName) here") }
    }
}
