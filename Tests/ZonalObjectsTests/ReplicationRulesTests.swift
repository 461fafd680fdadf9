import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalObjects

@Suite("Placement, quorums and listing merges")
struct ReplicationRulesTests {
    static func version(_ key: String, _ id: String, deleted: Bool = false) -> ObjectVersion {
        ObjectVersion(bucket: "b", key: key, versionID: id, isDeleteMarker: deleted, lastModified: Date(timeIntervalSince1970: 0))
    }

    @Test("replicas go to distinct zones, the same for every front end; reads start in the reader's zone")
    func placement() {
        let nodes = ["a", "b", "c", "d", "e", "f"].enumerated().map { ReplicaPlacement.StorageNode(name: "n\($1)", zone: "z\($0 % 3)") }
        let placement = ReplicaPlacement(nodes: nodes, replicas: 3)
        var counts: [String: Int] = [:]
        for index in 0..<300 {
            let chosen = placement.replicaNodes(bucket: "b", key: "k\(index)")
            #expect(Set(chosen.map(\.zone)).count == 3, "\(chosen)")
            #expect(chosen == ReplicaPlacement(nodes: nodes.reversed(), replicas: 3).replicaNodes(bucket: "b", key: "k\(index)"))
            for node in chosen { counts[node.name, default: 0] += 1 }
            #expect(placement.readOrder(bucket: "b", key: "k\(index)", from: "z1").first?.zone == "z1")
        }
        #expect(counts.values.allSatisfy { $0 > 100 }, "uneven spread: \(counts)")
        #expect(ReplicaPlacement(nodes: Array(nodes.prefix(2)), replicas: 3).replicaNodes(bucket: "b", key: "k").count == 2)
    }

    @Test("a write is acknowledged by 2 of 3 and fails once 2 failed; reads ask 2")
    func quorum() {
        var quorum = WriteQuorum(replicas: 3, quorum: 2)
        #expect(quorum.readQuorum == 2)
        quorum.record(durable: false)
        #expect(quorum.outcome == .pending)
        quorum.record(durable: true)
        #expect(quorum.outcome == .pending)
        quorum.record(durable: true)
        #expect(quorum.outcome == .acknowledged)
        var failing = WriteQuorum(replicas: 3, quorum: 2)
        failing.record(durable: false)
        failing.record(durable: false)
        #expect(failing.outcome == .failed)
    }

    @Test("merging replica listings keeps the newest version per key and stops at the shortest truncated page")
    func merge() {
        let a = ListingMerge.Page(versions: [Self.version("k1", "2"), Self.version("k2", "1"), Self.version("k4", "1")], truncated: true)
        let b = ListingMerge.Page(versions: [Self.version("k1", "1"), Self.version("k2", "3", deleted: true), Self.version("k3", "1")], truncated: false)
        let merged = ListingMerge.merge([a, b])
        #expect(merged.versions.map(\.key) == ["k1", "k2", "k3", "k4"])
        #expect(merged.versions.map(\.versionID) == ["2", "3", "1", "1"])
        #expect(merged.resumeAfter == Array("k4".utf8))
        let c = ListingMerge.Page(versions: [Self.version("k1", "1"), Self.version("k2", "1")], truncated: true)
        #expect(ListingMerge.merge([a, c]).versions.map(\.key) == ["k1", "k2"], "k4 is past c's boundary: c may still have k3")
    }

    @Test("pages hide delete markers, fold common prefixes, count both toward max-keys, and skip the prefix they resume at")
    func pages() {
        var page = ListingPage(prefix: "p/", delimiter: "/", maxKeys: 3, startAfter: nil)
        let versions = ["o/x", "p/a", "p/b/1", "p/b/2", "p/c", "p/d", "p/e"].map { Self.version($0, "1", deleted: $0 == "p/c") }
        let taken = versions.prefix { page.add($0) }
        #expect(page.contents.map(\.key) == ["p/a", "p/d"])
        #expect(page.commonPrefixes == ["p/b/"])
        #expect(page.isTruncated && taken.count == 6)
        #expect(page.last == "p/d")
        var resumed = ListingPage(prefix: "", delimiter: "/", maxKeys: 10, startAfter: "p/")
        for version in versions { _ = resumed.add(version) }
        #expect(resumed.commonPrefixes == ["o/"], "the prefix a page ended on is not listed again")
    }

    @Test("seeded: whatever subset of replicas missed writes, the merge of any two of three equals the acknowledged state")
    func seededMerges() {
        var random = SeededRandom(seed: 20_261_202)
        for _ in 0..<200 {
            var replicas: [[String: ObjectVersion]] = [[:], [:], [:]]
            var truth: [String: ObjectVersion] = [:]
            for step in 0..<40 {
                let key = "k\(Int.random(in: 0..<12, using: &random))"
                let version = Self.version(key, String(format: "%04d", step), deleted: Bool.random(using: &random))
                let missing = Int.random(in: 0..<3, using: &random)
                for index in 0..<3 where index != missing { replicas[index][key] = version }
                truth[key] = version
            }
            let pair = [0, 1, 2].shuffled(using: &random).prefix(2)
            let pages = pair.map { index in
                ListingMerge.Page(versions: replicas[index].values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }, truncated: false)
            }
            let merged = ListingMerge.merge(Array(pages))
            #expect(merged.versions == truth.values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
        }
    }

    @Test("a scrub pass may not read ahead of its rate: the pace is the bytes so far over the rate, from the start, without overflow")
    func scrubPace() {
        var pacer = ScrubPacer(rate: 1 << 20, started: .zero)
        #expect(pacer.spend(512 << 10) == MonotonicInstant(nanoseconds: 500_000_000))
        #expect(pacer.spend(512 << 10) == MonotonicInstant(nanoseconds: 1_000_000_000))
        #expect(pacer.spend(ScrubPacer.versionCost) == MonotonicInstant(nanoseconds: 1_003_906_250))
        #expect(pacer.spend(-5) == MonotonicInstant(nanoseconds: 1_003_906_250), "a negative count changes nothing")
        var huge = ScrubPacer(rate: 0, started: .zero)
        #expect(huge.rate == 1)
        _ = huge.spend(.max)
        #expect(huge.spend(.max) > MonotonicInstant.zero, "saturates instead of trapping")
    }

    @Test("seeded: pages of every version from nodes that each missed some, truncated anywhere, merge round by round into every version once, in order")
    func seededVersionMerges() {
        var random = SeededRandom(seed: 20_261_203)
        for _ in 0..<100 {
            var replicas: [[ObjectVersion]] = [[], [], []]
            var truth: [ObjectVersion] = []
            for step in 0..<30 {
                let version = Self.version("k\(Int.random(in: 0..<6, using: &random))", String(format: "%04d", step), deleted: Bool.random(using: &random))
                let missing = Int.random(in: 0..<3, using: &random)
                for index in 0..<3 where index != missing { replicas[index].append(version) }
                truth.append(version)
            }
            let ordered = replicas.map { $0.sorted(by: ListingMerge.precedes) }
            let limit = Int.random(in: 1...5, using: &random)
            var cursor: ListingMerge.Position?
            var listed: [ObjectVersion] = []
            for _ in 0..<100 {
                let pages = ordered.map { versions in
                    let after = versions.filter { version in
                        guard let cursor else { return true }
                        let key = Array(version.key.utf8)
                        return cursor.key.lexicographicallyPrecedes(key) || (key == cursor.key && cursor.versionID.map { version.versionID < $0 } ?? false)
                    }
                    return ListingMerge.Page(versions: Array(after.prefix(limit)), truncated: after.count > limit)
                }
                let round = ListingMerge.mergeVersions(pages)
                listed += round.versions
                guard let resume = round.resumeAfter else { break }
                cursor = resume
            }
            #expect(listed == truth.sorted(by: ListingMerge.precedes))
        }
    }
}
