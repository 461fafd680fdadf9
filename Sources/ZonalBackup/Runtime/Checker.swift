import Crypto
import Foundation
import ZonalCore

/// Checks a repository: every snapshot's trees can be read and every blob they need is indexed
/// in a pack that exists; with `readData`, every pack is read whole, its name (the SHA-256 of its
/// bytes) verified, and every blob decrypted, decompressed and matched against its id. Damage is
/// reported with the snapshots it touches; nothing is changed.
public struct Checker: Sendable {
    public let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    public struct Report: Sendable {
        /// Problems that make data unrestorable, each naming what it affects.
        public var errors: [String] = []
        /// Harmless findings, such as packs a crashed backup left without an index.
        public var notes: [String] = []
        public var snapshots = 0
        public var packs = 0
        public var blobsRead = 0
        /// Snapshots that can be restored in full.
        public var intactSnapshots: [String] = []

        public var isClean: Bool { errors.isEmpty }
    }

    /// `locking`: take a shared lock, so that no prune deletes packs under the check (which would
    /// show as damage); off for a repository that cannot be written to.
    public func check(readData: Bool, locking: Bool = true) async throws(BackupError) -> Report {
        return try await repository.withLock(exclusive: false, enabled: locking) { () async throws(BackupError) -> Report in
            var report = Report()
            let indexed = repository.indexedPacks
            let present = try await Set(repository.store.list("data").map(\.baseName))
            report.packs = present.count
            for pack in indexed.subtracting(present).sorted() {
                report.errors.append("pack \(pack.prefix(12)) is in the index but missing from data/")
            }
            for pack in present.subtracting(indexed).sorted() {
                report.notes.append("pack \(pack.prefix(12)) is in no index (left by an interrupted backup; prune removes it)")
            }
            var damagedBlobs: Set<BlobID> = []
            if readData {
                let byPack = repository.blobsByPack()
                for pack in indexed.intersection(present).sorted() {
                    await damagedBlobs.formUnion(readPack(pack, blobs: byPack[pack] ?? [], report: &report))
                }
            }
            for snapshot in try await repository.snapshots() {
                report.snapshots += 1
                var visited: Set<BlobID> = []
                let problems = await walk(snapshot.tree, path: "/", damaged: damagedBlobs, missingPacks: indexed.subtracting(present), visited: &visited)
                if problems.isEmpty {
                    report.intactSnapshots.append(snapshot.id)
                } else {
                    report.errors += problems.prefix(20).map { "snapshot \(snapshot.id.prefix(12)): \($0)" }
                    if problems.count > 20 { report.errors.append("snapshot \(snapshot.id.prefix(12)): \(problems.count - 20) more problems") }
                }
            }
            return report
        }
    }

    /// Problems in the tree `id` (at `path`): unreadable trees and missing or damaged blobs.
    private func walk(_ id: BlobID, path: String, damaged: Set<BlobID>, missingPacks: Set<String>, visited: inout Set<BlobID>) async -> [String] {
        guard visited.insert(id).inserted else { return [] }
        let tree: Tree
        do { tree = try await repository.loadTree(id) } catch {
            return ["directory \(path) cannot be read: \(error)"]
        }
        var problems: [String] = []
        for node in tree.nodes {
            let nodePath = path == "/" ? "/\(node.name)" : "\(path)/\(node.name)"
            for blob in node.content ?? [] {
                guard let location = repository.location(of: blob) else {
                    problems.append("\(nodePath): chunk \(blob) is in no index")
                    continue
                }
                if damaged.contains(blob) || missingPacks.contains(location.pack) {
                    problems.append("\(nodePath): chunk \(blob) in pack \(location.pack.prefix(12)) is damaged or missing")
                }
            }
            if let subtree = node.subtree {
                await problems += walk(subtree, path: nodePath, damaged: damaged, missingPacks: missingPacks, visited: &visited)
            }
        }
        return problems
    }

    /// Reads a pack whole; returns the ids of blobs in it that do not verify.
    private func readPack(_ pack: String, blobs: [BlobID], report: inout Report) async -> Set<BlobID> {
        let name = Repository.packName(pack)
        let bytes: [UInt8]
        do { bytes = try await repository.store.read(name) } catch {
            report.errors.append("pack \(pack.prefix(12)) cannot be read: \(error)")
            return Set(blobs)
        }
        if SHA256.hash(data: bytes).hex != pack {
            report.errors.append("pack \(pack.prefix(12)) does not match its name: its bytes changed")
        }
        var damaged: Set<BlobID> = []
        for id in blobs {
            guard let location = repository.location(of: id) else { continue }
            let blob = location.blob
            report.blobsRead += 1
            guard blob.offset + blob.length <= bytes.count else {
                damaged.insert(id)
                continue
            }
            let stored = Array(bytes[blob.offset..<(blob.offset + blob.length)])
            guard let plain = try? repository.codec.decode(stored, length: blob.plainLength, what: "blob \(id)"),
                repository.key.blobID(of: plain) == id
            else {
                damaged.insert(id)
                report.errors.append("blob \(id) (\(blob.kind.rawValue)) in pack \(pack.prefix(12)) is damaged")
                continue
            }
        }
        return damaged
    }
}
