import Foundation
import Logging
import ZonalCoordination
import ZonalCore

/// The buckets of a store, kept in the coordinator under `/zonal/objects/<store>/buckets/<name>`
/// so every front end of every zone sees the same set and the same settings.
public final class BucketDirectory: Sendable {
    /// What the coordinator records of a bucket.
    public struct Bucket: Sendable, Hashable, Codable {
        public var name: String
        public var created: Date
        public var region: String
        /// Nil until versioning is first enabled; then enabled or suspended, never nil again.
        public var versioning: Versioning?

        /// Whether a write now keeps the key's earlier versions.
        public var keepsVersions: Bool { versioning == .enabled }
    }

    /// S3's bucket versioning states, by their names in S3's XML.
    public enum Versioning: String, Sendable, Hashable, Codable {
        case enabled = "Enabled"
        case suspended = "Suspended"
    }

    public let store: String
    private let records: FollowedRecords<Bucket>

    public init(store: String, coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.store = store
        records = FollowedRecords(prefix: "/zonal/objects/\(store)/buckets/", coordinator: coordinator, clock: clock, logger: logger) { name, bucket in
            bucket.name == name && (try? ObjectName.validateBucket(name)) != nil
        }
    }

    var coordinator: any Coordinator { records.coordinator }

    /// Follows the buckets until cancelled.
    public func run() async {
        await records.run()
    }

    /// The bucket named `name`; nil when there is none.
    public func bucket(_ name: String) async throws(S3Error) -> Bucket? {
        try await records.get(name)
    }

    /// Every bucket, read from the coordinator.
    public func all() async throws(S3Error) -> [Bucket] {
        try await records.all()
    }

    /// Creates `name`; throws `BucketAlreadyOwnedByYou` when it exists.
    public func create(_ name: String, region: String, at date: Date) async throws(S3Error) {
        guard try await records.write(name, Bucket(name: name, created: date, region: region)) else { throw S3Error(.bucketAlreadyOwnedByYou) }
    }

    /// Sets the versioning of `name` (compare-and-swap on its record, so a concurrent change on
    /// another front end is not lost); returns the bucket as it is now.
    public func setVersioning(_ name: String, to versioning: Versioning) async throws(S3Error) -> Bucket {
        for _ in 0..<5 {
            guard var (bucket, revision) = try await records.stored(name) else {
                throw S3Error(.noSuchBucket, "The specified bucket does not exist: \(name)")
            }
            bucket.versioning = versioning
            if try await records.write(name, bucket, ifAt: revision) { return bucket }
        }
        throw S3Error(.operationAborted, "the bucket's configuration kept changing while it was set; try again")
    }

    public func delete(_ name: String) async throws(S3Error) {
        try await records.delete(name)
    }
}
