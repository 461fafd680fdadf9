import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ZonalCore
import ZonalObservability

/// Objects as replicas on storage nodes in several zones, for one front end: a write streams
/// to every replica node at once and is acknowledged when a quorum committed it; a read asks a
/// read quorum for the newest version and streams it from the nearest node that has it,
/// moving to another mid-stream if that node fails or finds its copy corrupt, and repairs the
/// replicas it found missing or behind.
public final class ReplicatedObjects: Sendable {
    public let placement: ReplicaPlacement
    public let zone: String
    let clients: [String: StorageNodeClient]
    let writeQuorum: Int
    let nodeTimeout: Duration
    let logger: Logger

    /// A replica node that takes no data for this long while an upload streams is dropped from
    /// that write (the quorum carries it; the node is repaired later), so a node that hangs
    /// without closing its connections slows no write by more than this.
    static let stallTimeout: Duration = .seconds(2)

    /// How long a read waits for the nearest replica's answer once a quorum of others answered.
    static let nearestGrace: Duration = .milliseconds(20)

    /// How long a listing waits for the nodes beyond those it needs.
    static let listingGrace: Duration = .milliseconds(200)

    public init(plan: S3GatewayPlan, tokens: AdminTokenSource, logger: Logger) {
        placement = plan.placement
        zone = plan.zone
        writeQuorum = plan.writeQuorum
        nodeTimeout = plan.spec.nodeTimeout
        clients = Dictionary(
            uniqueKeysWithValues: plan.storageNodes.map { ($0.name, StorageNodeClient(node: $0, tokens: tokens, timeout: plan.spec.nodeTimeout)) })
        self.logger = logger
    }

    /// What the front end learnt of a body while it streamed to the replicas.
    public struct BodyDigests: Sendable {
        public var size: Int64
        /// MD5 in hex: the ETag.
        public var md5: String
        public var sha256: String
        public var checksum: PayloadChecksum.Value?
    }

    /// Writes a new version of `template`'s key from `body`. `check` sees the digests before any
    /// replica is committed and throws to refuse the upload (a Content-MD5 that does not match).
    public func put<Body: AsyncSequence>(
        _ template: ObjectVersion, body: Body, length: Int64?, maxSize: Int64, checksum algorithm: PayloadChecksum.Algorithm?,
        check: (BodyDigests) throws(S3Error) -> Void
    ) async throws(S3Error) -> ObjectVersion where Body.Element == ByteBuffer {
        let nodes = placement.replicaNodes(bucket: template.bucket, key: template.key)
        guard nodes.count >= writeQuorum else { throw S3Error(.serviceUnavailable, "the store has fewer storage nodes than its write quorum") }
        let relays = nodes.map { _ in BodyRelay(stallTimeout: Self.stallTimeout) }
        let deadline = nodeTimeout + .seconds(Int64((length ?? maxSize) / (4 << 20)))
        let uploads = nodes.enumerated().map { index, node in
            let client = clients[node.name]!
            let relay = relays[index]
            return Task { () -> Result<ReplicaStore.Receipt, ObjectsError> in
                do throws(ObjectsError) {
                    return .success(try await client.upload(relay, length: length, deadline: deadline))
                } catch {
                    relay.fail(error)
                    return .failure(error)
                }
            }
        }
        let digests: BodyDigests
        do {
            digests = try await stream(body, to: relays, maxSize: maxSize, checksum: algorithm)
        } catch {
            for relay in relays { relay.fail(error) }
            for (index, upload) in uploads.enumerated() {
                if case .success(let receipt) = await upload.value { await clients[nodes[index].name]!.discard(upload: receipt.upload) }
            }
            throw error
        }
        for relay in relays { relay.finish() }
        var receipts: [(StorageNodeClient, String)] = []
        var failures: [ObjectsError] = []
        for (index, result) in await finishedUploads(uploads) {
            let client = clients[nodes[index].name]!
            switch result {
            case .success(let receipt) where receipt.sha256 == digests.sha256 && receipt.size == digests.size:
                receipts.append((client, receipt.upload))
            case .success(let receipt):
                await client.discard(upload: receipt.upload)
                failures.append(.corrupt("storage node \(client.node.name) received other bytes than were sent"))
            case .failure(let error):
                failures.append(error)
            case nil:
                failures.append(.storage("storage node \(client.node.name) did not confirm the upload in time"))
                Task { if case .success(let late) = await uploads[index].value { await client.discard(upload: late.upload) } }
            }
        }
        do {
            try check(digests)
        } catch {
            for (client, upload) in receipts { await client.discard(upload: upload) }
            throw error
        }
        var version = template
        version.size = digests.size
        version.etag = digests.md5
        version.sha256 = digests.sha256
        version.checksum = digests.checksum
        try await commit(version, on: receipts.map { ($0.0, Optional($0.1)) }, replicas: nodes.count, earlierFailures: failures)
        return version
    }

    /// Writes a delete marker for `key`: its versions are hidden on every replica that gets it.
    /// A `versioned` marker keeps them (a bucket with versioning: the delete can be undone);
    /// else it is the key's null version and replaces the previous one. `versionID` is the id a
    /// replicated marker keeps; a new one is made when nil.
    public func delete(bucket: String, key: String, at date: Date, versioned: Bool, versionID: String? = nil) async throws(S3Error) -> ObjectVersion {
        var marker = ObjectVersion(
            bucket: bucket, key: key, versionID: versionID ?? VersionID.make(at: date, random: .random(in: 0...UInt64.max)), isDeleteMarker: true,
            lastModified: date)
        marker.versioned = versioned ? true : nil
        try await record(marker)
        return marker
    }

    /// Deletes `version` for good: a purge record replaces it on a quorum of its replica nodes,
    /// and stays there so that no replica that missed it can bring the version back.
    public func purge(_ version: ObjectVersion) async throws(S3Error) {
        var record = ObjectVersion(bucket: version.bucket, key: version.key, versionID: version.versionID, lastModified: version.lastModified)
        record.isPurged = true
        try await self.record(record)
    }

    /// The version of `key` named `versionID` (or its null version, ``VersionID/null``) as a read
    /// quorum knows it, and the nodes that hold it, nearest first; nil when there is none or it
    /// was purged.
    public func version(bucket: String, key: String, versionID: String) async throws(S3Error) -> (version: ObjectVersion, holders: [StorageNodeClient])? {
        let nodes = placement.readOrder(bucket: bucket, key: key, from: zone).map { clients[$0.name]! }
        let readQuorum = WriteQuorum(replicas: nodes.count, quorum: writeQuorum).readQuorum
        let queries = nodes.map { client in
            Task { () -> Result<ObjectVersion?, ObjectsError> in
                do throws(ObjectsError) { return .success(try await client.version(bucket: bucket, key: key, versionID: versionID)) } catch {
                    return .failure(error)
                }
            }
        }
        let results = await QuorumGather.results(of: queries) { results in
            results.values.count(where: \.succeeded) >= readQuorum ? .zero : nil
        }
        var answers: [Int: ObjectVersion?] = [:]
        for case (let index, .success(let version)) in results { answers[index] = version }
        guard answers.count >= readQuorum else {
            throw S3Error(.serviceUnavailable, "only \(answers.count) of \(nodes.count) storage nodes answered; \(readQuorum) are needed to read")
        }
        let found = answers.values.compactMap { $0 }
        guard !found.contains(where: { $0.isPurged == true }), let chosen = found.max(by: { $1.isNewer(than: $0) }) else { return nil }
        let holders = nodes.indices.filter { answers[$0]??.versionID == chosen.versionID }.map { nodes[$0] }
        return (chosen, holders + nodes.indices.filter { answers[$0] == nil }.map { nodes[$0] })
    }

    /// Commits a version that carries no bytes of its own (a delete marker, a completed
    /// multipart object) on its replica nodes, acknowledged by a quorum.
    public func record(_ version: ObjectVersion) async throws(S3Error) {
        let nodes = placement.replicaNodes(bucket: version.bucket, key: version.key)
        try await commit(version, on: nodes.map { (clients[$0.name]!, nil) }, replicas: nodes.count, earlierFailures: [])
    }

    /// Replaces the record of `version` (its tags) on its replica nodes, acknowledged by a quorum;
    /// the bytes stay as they are.
    public func retag(_ version: ObjectVersion) async throws(S3Error) {
        let nodes = placement.replicaNodes(bucket: version.bucket, key: version.key)
        try await commit(version, on: nodes.map { (clients[$0.name]!, nil) }, replicas: nodes.count, earlierFailures: [], retag: true)
    }

    /// Removes every version of the keys starting with `prefix` from every node that answers
    /// (the parts of an aborted or completed upload).
    public func removeKeys(bucket: String, prefix: String) async {
        for client in clients.values {
            do { try await client.removeKeys(bucket: bucket, prefix: prefix) } catch {
                logger.warning(
                    "a storage node kept keys it was told to remove",
                    metadata: ["bucket": "\(bucket)", "prefix": "\(prefix)", "node": "\(client.node.name)", "error": "\(error)"])
            }
        }
    }

    /// The newest version of `key` a read quorum knows, and which nodes hold it, nearest first.
    /// Every replica found behind — among the quorum, or answering later — is repaired in the
    /// background from a holder.
    public func newest(bucket: String, key: String) async throws(S3Error) -> (version: ObjectVersion, holders: [StorageNodeClient])? {
        let nodes = placement.readOrder(bucket: bucket, key: key, from: zone).map { clients[$0.name]! }
        let readQuorum = WriteQuorum(replicas: nodes.count, quorum: writeQuorum).readQuorum
        let queries = nodes.map { client in
            Task { () -> Result<ObjectVersion?, ObjectsError> in
                do throws(ObjectsError) { return .success(try await client.version(bucket: bucket, key: key)) } catch { return .failure(error) }
            }
        }
        // Enough answers are a read quorum; the nearest node, which the bytes should come from,
        // is waited for a little longer when it is not among them.
        let results = await QuorumGather.results(of: queries) { results in
            guard results.values.count(where: \.succeeded) >= readQuorum else { return nil }
            return results[0] != nil ? .zero : Self.nearestGrace
        }
        var answers: [Int: ObjectVersion?] = [:]
        for case (let index, .success(let version)) in results { answers[index] = version }
        guard answers.count >= readQuorum else {
            throw S3Error(.serviceUnavailable, "only \(answers.count) of \(nodes.count) storage nodes answered; \(readQuorum) are needed to read")
        }
        guard let newest = answers.values.compactMap({ $0 }).max(by: { $1.isNewer(than: $0) }) else { return nil }
        let holders = nodes.indices.filter { answers[$0]??.versionID == newest.versionID }.map { nodes[$0] }
        let behind = nodes.indices.filter { answers[$0] != nil && answers[$0]??.versionID != newest.versionID }.map { nodes[$0] }
        let unasked = nodes.indices.filter { answers[$0] == nil }
        if !behind.isEmpty { repair(newest, from: holders, to: behind) }
        if !unasked.isEmpty {
            Task {
                for index in unasked {
                    if case .success(let late) = await queries[index].value, late?.versionID != newest.versionID, late.map({ newest.isNewer(than: $0) }) ?? true
                    {
                        repair(newest, from: holders, to: [nodes[index]])
                    }
                }
            }
        }
        return (newest, holders + unasked.map { nodes[$0] })
    }

    /// The bytes of `version` in `range` from the first of `holders` that serves them, resuming
    /// at the same offset on the next holder when one fails mid-stream. A completed multipart
    /// object is read part by part, each from its own replicas.
    public func bytes(of version: ObjectVersion, range: ClosedRange<Int64>?, holders: [StorageNodeClient]) -> ObjectBytes {
        let repairFailed: @Sendable (ObjectVersion, StorageNodeClient, [StorageNodeClient]) -> Void = { [weak self] version, failed, others in
            self?.repair(version, from: others, to: [failed])
        }
        guard version.size > 0 else { return ObjectBytes(segments: [], deadline: nodeTimeout, onFailedHolder: repairFailed) }
        let wanted = range ?? 0...(version.size - 1)
        let deadline = nodeTimeout + .seconds(version.size / (4 << 20))
        guard let parts = version.parts else {
            return ObjectBytes(segments: [.init(version: version, range: wanted, holders: holders)], deadline: deadline, onFailedHolder: repairFailed)
        }
        let namespace = ObjectVersion.uploadsNamespace(of: version.bucket)
        var segments: [ObjectBytes.Segment] = []
        var start: Int64 = 0
        for part in parts {
            defer { start += part.size }
            guard part.size > 0, start <= wanted.upperBound, start + part.size - 1 >= wanted.lowerBound else { continue }
            let range = (max(wanted.lowerBound, start) - start)...(min(wanted.upperBound, start + part.size - 1) - start)
            let replica = ObjectVersion(
                bucket: namespace, key: part.key, versionID: part.versionID, size: part.size, etag: part.etag, lastModified: version.lastModified)
            let nodes = placement.readOrder(bucket: namespace, key: part.key, from: zone).map { clients[$0.name]! }
            segments.append(.init(version: replica, range: range, holders: nodes))
        }
        return ObjectBytes(segments: segments, deadline: deadline, onFailedHolder: repairFailed)
    }

    /// The uploads' results once all are in, or once a write quorum is in and the others had
    /// a grace as long again (at least 100 ms, at most the stall timeout): a node that hangs
    /// after taking the whole body delays no write. Nil for an upload not waited for.
    private func finishedUploads(_ uploads: [Task<Result<ReplicaStore.Receipt, ObjectsError>, Never>]) async -> [(
        Int, Result<ReplicaStore.Receipt, ObjectsError>?
    )] {
        let started = ContinuousClock.now
        let writeQuorum = self.writeQuorum
        let results = await QuorumGather.results(of: uploads) { results in
            guard results.values.count(where: \.succeeded) >= writeQuorum else { return nil }
            return min(max(started.duration(to: .now), .milliseconds(100)), Self.stallTimeout)
        }
        return uploads.indices.map { ($0, results[$0]) }
    }

    /// One round of a listing: every node's next page after `after`, merged. Needs all nodes
    /// but `writeQuorum - 1`, so each key's replicas still include one with its newest write.
    public func listingRound(bucket: String, prefix: [UInt8], after: [UInt8], limit: Int) async throws(S3Error) -> ListingMerge.Merged {
        ListingMerge.merge(try await pages { try await $0.list(bucket: bucket, prefix: prefix, after: after, limit: limit) })
    }

    /// One round of a listing of every version, merged like ``listingRound(bucket:prefix:after:limit:)``.
    public func versionsRound(bucket: String, prefix: [UInt8], after: ListingMerge.Position?, limit: Int) async throws(S3Error) -> (
        versions: [ObjectVersion], resumeAfter: ListingMerge.Position?
    ) {
        ListingMerge.mergeVersions(try await pages { try await $0.versions(bucket: bucket, prefix: prefix, after: after, limit: limit) })
    }

    /// A page from every node but `writeQuorum - 1`; once enough answered, a node that hangs is
    /// not waited for past a short grace.
    private func pages(_ fetch: @escaping @Sendable (StorageNodeClient) async throws -> ListingMerge.Page) async throws(S3Error) -> [ListingMerge.Page] {
        let all = Array(clients.values)
        let needed = all.count - writeQuorum + 1
        let requests = all.map { client in Task { () -> ListingMerge.Page? in try? await fetch(client) } }
        let pages = await QuorumGather.results(of: requests) { results in
            results.values.count(where: { $0 != nil }) >= needed ? Self.listingGrace : nil
        }.values.compactMap { $0 }
        guard pages.count >= needed else {
            throw S3Error(.serviceUnavailable, "only \(pages.count) of \(all.count) storage nodes answered; \(needed) are needed to list")
        }
        return pages
    }

    /// Throws unless enough storage nodes answer their health check (within a second) for this
    /// front end to write and read: a front end cut off from the nodes reports itself unhealthy,
    /// so the balancer sends its clients to one that is not. Returns how many answered.
    public func checkNodes() async throws(ObjectsError) -> (answering: Int, of: Int) {
        let all = Array(clients.values)
        let answering = await withTaskGroup(of: Bool.self) { group in
            for client in all { group.addTask { await client.answers(within: .seconds(1)) } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        let needed = max(writeQuorum, WriteQuorum(replicas: placement.replicas, quorum: writeQuorum).readQuorum)
        guard answering >= needed else {
            throw .storage("only \(answering) of \(all.count) storage nodes answer; this front end needs \(needed) to write and read")
        }
        return (answering, all.count)
    }

    /// Removes a deleted bucket's replicas (delete markers, mostly) from every node that answers.
    public func removeBucket(_ bucket: String) async {
        for client in clients.values {
            do { try await client.removeBucket(bucket) } catch {
                logger.warning(
                    "a storage node kept the replicas of a deleted bucket",
                    metadata: ["bucket": "\(bucket)", "node": "\(client.node.name)", "error": "\(error)"])
            }
        }
    }

    // MARK: Helpers

    private func stream<Body: AsyncSequence>(_ body: Body, to relays: [BodyRelay], maxSize: Int64, checksum algorithm: PayloadChecksum.Algorithm?)
        async throws(S3Error) -> BodyDigests
    where Body.Element == ByteBuffer {
        var md5 = Insecure.MD5()
        var sha256 = SHA256()
        var checksum = algorithm.map(PayloadChecksum.init)
        var size: Int64 = 0
        var alive = Array(relays.indices)
        var failures: [any Error] = []
        do {
            for try await buffer in body {
                size += Int64(buffer.readableBytes)
                guard size <= maxSize else { throw S3Error(.entityTooLarge, "the object is larger than this store's limit of \(maxSize) bytes") }
                buffer.withUnsafeReadableBytes { bytes in
                    md5.update(bufferPointer: bytes)
                    sha256.update(bufferPointer: bytes)
                    checksum?.update(bytes)
                }
                var stillAlive: [Int] = []
                for index in alive {
                    do {
                        try await relays[index].send(buffer)
                        stillAlive.append(index)
                    } catch {
                        failures.append(error)
                    }
                }
                alive = stillAlive
                guard alive.count >= writeQuorum else { throw Self.refusal(failures, written: alive.count, of: relays.count) }
            }
        } catch let error as S3Error {
            throw error
        } catch {
            throw S3Error(.incompleteBody, "the request body broke off: \(error)")
        }
        return BodyDigests(size: size, md5: md5.finalize().hex, sha256: sha256.finalize().hex, checksum: checksum?.finalize())
    }

    /// Commits `version` on each node (with its upload), returning once a quorum has it; the
    /// other commits go on in the background.
    private func commit(
        _ version: ObjectVersion, on targets: [(StorageNodeClient, String?)], replicas: Int, earlierFailures: [ObjectsError], retag: Bool = false
    ) async throws(S3Error) {
        var quorum = WriteQuorum(replicas: replicas, quorum: writeQuorum)
        var failures = earlierFailures
        for _ in earlierFailures { quorum.record(durable: false) }
        let (results, continuation) = AsyncStream.makeStream(of: ObjectsError?.self)
        for (client, upload) in targets {
            Task {
                do throws(ObjectsError) {
                    if retag { try await client.retag(version) } else { try await client.commit(upload: upload, version: version) }
                    continuation.yield(nil)
                } catch {
                    continuation.yield(error)
                }
            }
        }
        var remaining = targets.count
        for await failure in results {
            remaining -= 1
            quorum.record(durable: failure == nil)
            if let failure { failures.append(failure) }
            if quorum.outcome != .pending || remaining == 0 { break }
        }
        guard quorum.outcome == .acknowledged else {
            logger.warning("write not acknowledged", metadata: ["bucket": "\(version.bucket)", "key": "\(version.key)", "failures": "\(failures)"])
            throw Self.refusal(failures, written: quorum.durable, of: replicas)
        }
    }

    /// The error of a write that missed its quorum: out of room when a node said so, else
    /// unavailable.
    private static func refusal(_ failures: [any Error], written: Int, of replicas: Int) -> S3Error {
        let reasons = failures.map { "\($0)" }.joined(separator: "; ")
        if failures.contains(where: { if case ObjectsError.diskFull = $0 { true } else { false } }) {
            return S3Error(.insufficientStorage, "too few storage nodes have room for this object: \(reasons)")
        }
        return S3Error(.serviceUnavailable, "only \(written) of \(replicas) replicas could be written: \(reasons)")
    }

    /// Copies `version` to the nodes found without it (or with a copy that failed), from the
    /// first of `sources` that has it whole. The record is read from the source by version id,
    /// so a copy is exactly the acknowledged version, digests included.
    func repair(_ version: ObjectVersion, from sources: [StorageNodeClient], to targets: [StorageNodeClient]) {
        let logger = self.logger
        let deadline = nodeTimeout + .seconds(version.size / (4 << 20))
        let sources = sources.filter { source in !targets.contains { $0.node == source.node } }
        Task {
            for target in targets {
                var lastError: (any Error)?
                for source in sources {
                    do throws(ObjectsError) {
                        guard try await source.copy(bucket: version.bucket, key: version.key, versionID: version.versionID, to: target, deadline: deadline)
                        else { continue }
                        logger.info(
                            "replica repaired",
                            metadata: ["bucket": "\(version.bucket)", "key": "\(version.key)", "node": "\(target.node.name)", "from": "\(source.node.name)"])
                        lastError = nil
                        break
                    } catch {
                        lastError = error
                    }
                }
                if let lastError {
                    logger.warning(
                        "replica repair failed",
                        metadata: ["bucket": "\(version.bucket)", "key": "\(version.key)", "node": "\(target.node.name)", "error": "\(lastError)"])
                }
            }
        }
    }
}

/// A read of an object's bytes that survives the loss of the node it reads from: each segment
/// (the object, or one part of a multipart object) is read from its first holder, and on an
/// error the next holder is asked for the rest, from the first byte not yet delivered.
public struct ObjectBytes: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    struct Segment: Sendable {
        var version: ObjectVersion
        var range: ClosedRange<Int64>
        var holders: [StorageNodeClient]
    }

    let segments: [Segment]
    let deadline: Duration
    /// Told of a holder that failed while others remain: the version, the holder, the others.
    let onFailedHolder: @Sendable (ObjectVersion, StorageNodeClient, [StorageNodeClient]) -> Void

    public func makeAsyncIterator() -> Iterator {
        Iterator(bytes: self, next: segments.first?.range.lowerBound)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let bytes: ObjectBytes
        var segment = 0
        /// The first byte of the segment not yet delivered.
        var next: Int64?
        var holder = 0
        var current: HTTPClientResponse.Body.AsyncIterator?

        public mutating func next() async throws -> ByteBuffer? {
            while segment < bytes.segments.count {
                let part = bytes.segments[segment]
                guard let offset = next, offset <= part.range.upperBound else {
                    segment += 1
                    holder = 0
                    current = nil
                    next = segment < bytes.segments.count ? bytes.segments[segment].range.lowerBound : nil
                    continue
                }
                if current == nil {
                    guard holder < part.holders.count else {
                        throw ObjectsError.storage("no storage node could serve \(part.version.bucket)/\(part.version.key) from byte \(offset)")
                    }
                    do {
                        current = try await part.holders[holder].bytes(of: part.version, range: offset...part.range.upperBound, deadline: bytes.deadline)
                            .makeAsyncIterator()
                    } catch {
                        failed(part)
                        continue
                    }
                }
                do {
                    guard let buffer = try await current!.next() else { throw ObjectsError.storage("the node's answer ended early") }
                    next = offset + Int64(buffer.readableBytes)
                    return buffer
                } catch {
                    current = nil
                    failed(part)
                }
            }
            return nil
        }

        /// The current holder failed: the read moves on, and the holder is repaired from the others.
        private mutating func failed(_ part: Segment) {
            let others = part.holders.enumerated().filter { $0.offset != holder }.map(\.element)
            bytes.onFailedHolder(part.version, part.holders[holder], others)
            holder += 1
        }
    }
}
