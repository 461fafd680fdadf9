import Foundation
import Logging
import NIOCore
import Testing
import ZonalTesting

@testable import ZonalObjects

/// A storage node's replicas on a real disk: uploads become visible only when committed, every
/// block is verified on the way out, a damaged file is found and dropped, a crash's leftovers
/// are cleared.
@Suite("Replica store")
struct ReplicaStoreTests {
    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let parts: [[UInt8]]

        struct AsyncIterator: AsyncIteratorProtocol {
            var parts: [[UInt8]]
            mutating func next() async -> ByteBuffer? { parts.isEmpty ? nil : ByteBuffer(bytes: parts.removeFirst()) }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(parts: parts) }
    }

    /// A version id (32 hex digits) ending in `number`.
    static func id(_ number: Int) -> String {
        String(repeating: "0", count: 28) + String(format: "%04d", number)
    }

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    func collect(_ bytes: ReplicaBytes) async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await buffer in bytes { all += buffer.readableBytesView }
        return all
    }

    func write(_ store: ReplicaStore, key: String, _ content: [UInt8], id: String, versioned: Bool? = nil) async throws -> ObjectVersion {
        let receipt = try await store.receive(
            Chunks(parts: stride(from: 0, to: content.count, by: 300_000).map { Array(content[$0..<min($0 + 300_000, content.count)]) }))
        var version = ObjectVersion(bucket: "b", key: key, versionID: id, size: receipt.size, sha256: receipt.sha256, lastModified: Date())
        version.versioned = versioned
        try await store.commit(upload: receipt.upload, version: version)
        return version
    }

    @Test("a committed version reads back whole and in ranges across blocks; a newer one replaces it")
    func writeAndRead() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-replicas")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        #expect(try await store.index.synchronousMode() == 2, "every index commit is synced (FULL), not only at checkpoints")
        let content = Self.bytes(2_500_000, seed: 1)
        let receipt = try await store.receive(Chunks(parts: [Array(content.prefix(10))]))
        #expect(try await store.version(bucket: "b", key: "k") == nil, "an upload is invisible until committed")
        store.discard(upload: receipt.upload)
        let first = try await write(store, key: "k", content, id: Self.id(1))
        let (_, all) = try await store.read(bucket: "b", key: "k", versionID: first.versionID, range: nil)
        #expect(try await collect(all) == content)
        let (_, middle) = try await store.read(bucket: "b", key: "k", versionID: first.versionID, range: 1_048_000...2_100_000)
        #expect(try await collect(middle) == Array(content[1_048_000...2_100_000]))
        _ = try await write(store, key: "k", Array(content.prefix(5)), id: Self.id(2))
        #expect(try await store.version(bucket: "b", key: "k")?.versionID == Self.id(2))
        #expect(try await store.version(bucket: "b", key: "k", versionID: Self.id(1)) == nil, "buckets without versioning keep the newest only")
        let listing = try await store.list(bucket: "b", prefix: [], after: [], limit: 10)
        #expect(listing.versions.map(\.versionID) == [Self.id(2)])
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory.file("objects")).filter { $0.contains("-") }
        #expect(files.count == 1, "the superseded replica's file is gone: \(files)")
    }

    @Test("versioned writes keep the earlier versions, a null version replaces only the null one, and a purged version never comes back")
    func versionRules() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-replicas")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        _ = try await write(store, key: "k", [1], id: Self.id(1))
        _ = try await write(store, key: "k", [2], id: Self.id(2), versioned: true)
        _ = try await write(store, key: "k", [3], id: Self.id(3), versioned: true)
        _ = try await write(store, key: "k", [4], id: Self.id(4))
        let ids = { try await store.versions(bucket: "b", prefix: [], after: nil, limit: 10).versions.map(\.versionID) }
        #expect(try await ids() == [Self.id(4), Self.id(3), Self.id(2)], "the newer null version replaced the older one only")
        #expect(try await store.version(bucket: "b", key: "k", versionID: VersionID.null)?.versionID == Self.id(4))
        let page = try await store.versions(bucket: "b", prefix: [], after: .init(key: Array("k".utf8), versionID: Self.id(4)), limit: 1)
        #expect(page.versions.map(\.versionID) == [Self.id(3)] && page.truncated)

        var purge = ObjectVersion(bucket: "b", key: "k", versionID: Self.id(3), lastModified: Date())
        purge.isPurged = true
        try await store.commit(upload: nil, version: purge)
        #expect(try await ids() == [Self.id(4), Self.id(2)])
        #expect(try await store.version(bucket: "b", key: "k", versionID: Self.id(3))?.isPurged == true, "asked by id, the purge answers")
        _ = try await write(store, key: "k", [3], id: Self.id(3), versioned: true)
        #expect(try await ids() == [Self.id(4), Self.id(2)], "a late replica of the purged version is not recorded again")
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory.file("objects")).filter { $0.contains("-") }
        #expect(files.count == 2, "the purged version's files are gone: \(files)")
    }

    @Test("commits that arrive together are written together, and each is visible whole once its commit returns")
    func concurrentCommits() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-replicas")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 1...64 {
                group.addTask {
                    let content = Self.bytes(number * 100, seed: UInt64(number))
                    let version = try await self.write(store, key: "k\(number)", content, id: Self.id(number))
                    let (_, bytes) = try await store.read(bucket: "b", key: version.key, versionID: version.versionID, range: nil)
                    #expect(try await self.collect(bytes) == content)
                }
            }
            try await group.waitForAll()
        }
        let listing = try await store.list(bucket: "b", prefix: [], after: [], limit: 100)
        #expect(Set(listing.versions.map(\.key)) == Set((1...64).map { "k\($0)" }))
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory.file("objects")).filter { $0.contains("-") }
        #expect(files.count == 64, "\(files.count)")
    }

    @Test("a flipped byte or a missing file fails the read of that block and drops the replica, so it is healed and not served")
    func corruption() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-replicas")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        let content = Self.bytes(3_000_000, seed: 2)
        let version = try await write(store, key: "bad", content, id: Self.id(1))
        let file = try #require(try FileManager.default.subpathsOfDirectory(atPath: directory.file("objects")).first { $0.contains(Self.id(1)) })
        let handle = try #require(FileHandle(forUpdatingAtPath: directory.file("objects/\(file)")))
        try handle.seek(toOffset: 2_000_000)
        try handle.write(contentsOf: Data([content[2_000_000] ^ 0xFF]))
        try handle.close()
        let (_, bytes) = try await store.read(bucket: "b", key: "bad", versionID: version.versionID, range: nil)
        var delivered = 0
        await #expect(throws: ObjectsError.self) {
            for try await buffer in bytes { delivered += buffer.readableBytes }
        }
        #expect(delivered == 1 << 20, "the blocks before the damaged one were served, the damaged one not")
        #expect(try await store.version(bucket: "b", key: "bad") == nil, "the damaged replica left the index")

        let second = try await write(store, key: "gone", content, id: Self.id(2))
        let secondFile = try #require(try FileManager.default.subpathsOfDirectory(atPath: directory.file("objects")).first { $0.contains(Self.id(2)) })
        try FileManager.default.removeItem(atPath: directory.file("objects/\(secondFile)"))
        let (_, missing) = try await store.read(bucket: "b", key: "gone", versionID: second.versionID, range: nil)
        await #expect(throws: ObjectsError.self) { for try await _ in missing {} }
        #expect(try await store.version(bucket: "b", key: "gone") == nil)
    }

    @Test("what a crash leaves (temporary uploads, files no index row names) is removed at start")
    func leftovers() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-replicas")
        defer { directory.remove() }
        let store = try await ReplicaStore.load(directory: directory.path, logger: Logger(label: "test"))
        _ = try await store.receive(Chunks(parts: [[1, 2, 3]]))
        let kept = try await write(store, key: "kept", [9, 9], id: Self.id(1))
        try FileManager.default.createDirectory(atPath: directory.file("objects/zz"), withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: directory.file("objects/zz/orphan")))
        #expect(try await store.removeLeftovers() == 2)
        #expect(try await store.version(bucket: "b", key: "kept")?.versionID == kept.versionID)
        let (_, bytes) = try await store.read(bucket: "b", key: "kept", versionID: kept.versionID, range: nil)
        #expect(try await collect(bytes) == [9, 9])
    }
}
