import Foundation
import ZonalCoordination
import ZonalCore

/// The multipart uploads in progress, in the coordinator under
/// `/zonal/objects/<store>/uploads/<bucket>/<upload id>`: what the object will be (key, content
/// type, metadata) until it is completed or aborted. The parts themselves are replicated like
/// objects, in the bucket's uploads namespace.
public struct MultipartUploads: Sendable {
    /// An upload as created.
    public struct Upload: Sendable, Hashable, Codable {
        public var id: String
        public var bucket: String
        public var key: String
        public var initiated: Date
        public var contentType: String?
        public var userMetadata: [String: String]
        public var headers: [String: String]
        /// `x-amz-tagging` of CreateMultipartUpload: the completed object's tags.
        public var tags: [String: String]?
    }

    public let store: String
    let coordinator: any Coordinator

    public init(store: String, coordinator: any Coordinator) {
        self.store = store
        self.coordinator = coordinator
    }

    func prefix(_ bucket: String) -> String { "/zonal/objects/\(store)/uploads/\(bucket)/" }

    /// Starts an upload of `template`'s key, with its metadata; returns the upload.
    public func create(_ template: ObjectVersion) async throws(S3Error) -> Upload {
        var id = ""
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 { id += String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
        let upload = Upload(
            id: id, bucket: template.bucket, key: template.key, initiated: template.lastModified, contentType: template.contentType,
            userMetadata: template.userMetadata, headers: template.headers, tags: template.tags)
        let value = (try? JSONEncoder.zonal().encode(upload)).map(Array.init) ?? []
        do { try await coordinator.put(prefix(upload.bucket) + id, value: value, lease: nil) } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
        return upload
    }

    /// The upload `id` of `key`; `NoSuchUpload` when there is none (or it is of another key).
    public func upload(_ id: String, bucket: String, key: String) async throws(S3Error) -> Upload {
        let found: KeyValue?
        do { found = try await coordinator.get(prefix(bucket) + id) } catch { throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)") }
        guard let found, let upload = try? JSONDecoder.zonal().decode(Upload.self, from: Data(found.value)), upload.key == key else {
            throw S3Error(.noSuchUpload, "The specified multipart upload does not exist: \(id)")
        }
        return upload
    }

    /// The uploads in progress in `bucket`, by key then time.
    public func all(bucket: String) async throws(S3Error) -> [Upload] {
        let reading: RangeResult
        do { reading = try await coordinator.range(prefix: prefix(bucket)) } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
        return reading.keyValues.compactMap { try? JSONDecoder.zonal().decode(Upload.self, from: Data($0.value)) }
            .sorted { $0.key == $1.key ? $0.initiated < $1.initiated : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// Every upload in progress in the store, in every bucket.
    public func everyUpload() async throws(S3Error) -> [Upload] {
        do {
            return try await coordinator.range(prefix: "/zonal/objects/\(store)/uploads/").keyValues.compactMap {
                try? JSONDecoder.zonal().decode(Upload.self, from: Data($0.value))
            }
        } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
    }

    /// Puts back an upload whose completion was claimed but could not be recorded, so the
    /// client can complete it again.
    public func restore(_ upload: Upload) async {
        let value = (try? JSONEncoder.zonal().encode(upload)).map(Array.init) ?? []
        try? await coordinator.put(prefix(upload.bucket) + upload.id, value: value, lease: nil)
    }

    /// Forgets the upload (completed or aborted); true when it still existed. Whoever removes
    /// it is the one that completes or aborts it: a completion and the expiry of the same
    /// upload cannot both go on.
    public func remove(_ upload: Upload) async throws(S3Error) -> Bool {
        do { return try await coordinator.delete(prefix(upload.bucket) + upload.id) } catch {
            throw S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
        }
    }
}
