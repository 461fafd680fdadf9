import Foundation
import Logging
import Synchronization
import ZonalCoordination
import ZonalCore

/// The buckets of a store, kept in the coordinator under `/zonal/objects/<store>/buckets/<name>`
/// so every front end of every zone sees the same set. Followed into a local map (read, then
/// watch); a name the map does not know is read from the coordinator before it is refused, so
/// a bucket another front end just created is found at once.
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
    let coordinator: any Coordinator
    private let clock: any ZonalClock
    private let logger: Logger
    private let known = Mutex<[String: Bucket]>([:])

    public init(store: String, coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.store = store
        self.coordinator = coordinator
        self.clock = clock
        self.logger = logger
    }

    public var prefix: String { "/zonal/objects/\(store)/buckets/" }

    /// Follows the buckets until cancelled.
    public func run() async {
        await PrefixFollower(coordinator: coordinator, prefix: prefix, clock: clock).run(
            onReading: { reading in
                let buckets = reading.keyValues.compactMap { self.decode($0.value) }
                known.withLock { $0 = Dictionary(uniqueKeysWithValues: buckets.map { ($0.name, $0) }) }
            },
            onEvent: { event in
                let name = String(event.keyValue.key.dropFirst(prefix.count))
                let bucket = event.kind == .put ? decode(event.keyValue.value) : nil
                known.withLock { $0[name] = bucket }
            },
            onError: { error, pause in
                logger.warning("following the buckets failed", metadata: ["error": "\(error)", "retry_in": "\(pause)"])
            })
    }

    /// The bucket named `name`; nil when there is none.
    public func bucket(_ name: String) async throws(S3Error) -> Bucket? {
        if let bucket = known.withLock({ $0[name] }) { return bucket }
        do {
            return try await coordinator.get(prefix + name).flatMap { decode($0.value) }
        } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
    }

    /// Every bucket, read from the coordinator.
    public func all() async throws(S3Error) -> [Bucket] {
        do {
            return try await coordinator.range(prefix: prefix).keyValues.compactMap { decode($0.value) }
        } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
    }

    /// Creates `name`; throws `BucketAlreadyOwnedByYou` when it exists.
    public func create(_ name: String, region: String, at date: Date) async throws(S3Error) {
        let bucket = Bucket(name: name, created: date, region: region)
        let value = (try? JSONEncoder.zonal().encode(bucket)).map(Array.init) ?? []
        let created: Int64?
        do {
            created = try await coordinator.compareAndSwap(prefix + name, expectedRevision: 0, value: value)
        } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
        guard created != nil else { throw S3Error(.bucketAlreadyOwnedByYou) }
        known.withLock { $0[name] = bucket }
    }

    /// Sets the versioning of `name` (compare-and-swap on its record, so a concurrent change on
    /// another front end is not lost); returns the bucket as it is now.
    public func setVersioning(_ name: String, to versioning: Versioning) async throws(S3Error) -> Bucket {
        for _ in 0..<5 {
            let stored: KeyValue?
            do { stored = try await coordinator.get(prefix + name) } catch { throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)") }
            guard let stored, var bucket = decode(stored.value) else { throw S3Error(.noSuchBucket, "The specified bucket does not exist: \(name)") }
            bucket.versioning = versioning
            let value = (try? JSONEncoder.zonal().encode(bucket)).map(Array.init) ?? []
            let swapped: Int64?
            do {
                swapped = try await coordinator.compareAndSwap(prefix + name, expectedRevision: stored.modRevision, value: value)
            } catch {
                throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
            }
            if swapped != nil {
                known.withLock { $0[name] = bucket }
                return bucket
            }
        }
        throw S3Error(.operationAborted, "the bucket's configuration kept changing while it was set; try again")
    }

    public func delete(_ name: String) async throws(S3Error) {
        do {
            try await coordinator.delete(prefix + name)
        } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
        _ = known.withLock { $0.removeValue(forKey: name) }
    }

    private func decode(_ value: [UInt8]) -> Bucket? {
        guard let bucket = try? JSONDecoder.zonal().decode(Bucket.self, from: Data(value)), (try? ObjectName.validateBucket(bucket.name)) != nil else {
            logger.warning("ignoring a bucket record that cannot be read", metadata: ["store": "\(store)"])
            return nil
        }
        return bucket
    }
}
