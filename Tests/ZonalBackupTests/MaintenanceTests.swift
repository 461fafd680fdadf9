import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBackup

@Suite("Retention policies")
struct RetentionPolicyTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)  // a Tuesday, 22:13 UTC

    @Test("keep last, hourly, daily, weekly and monthly pick the newest snapshot of each period")
    func rules() {
        // One snapshot every 6 hours for 60 days.
        let snapshots = (0..<240).map { (id: "s\($0)", time: start.addingTimeInterval(Double($0) * 6 * 3600)) }
        let decisions = Retention(last: 2, daily: 7, weekly: 4, monthly: 3).apply(to: snapshots)
        let kept = decisions.filter(\.keep)
        #expect(decisions.first?.snapshot == "s239" && decisions.first?.reasons.contains("last 2") == true)
        #expect(kept.filter { $0.reasons.contains("daily 7") }.count == 7)
        #expect(kept.filter { $0.reasons.contains("weekly 4") }.count == 4)
        #expect(kept.filter { $0.reasons.contains("monthly 3") }.count == 3)
        #expect(kept.count < 16 && kept.count >= 9, "\(kept.count) kept")
        #expect(Retention().apply(to: snapshots).allSatisfy { $0.keep }, "no rule removes nothing")
    }
}

@Suite("Prune, diff, rollback and copy", .serialized)
struct MaintenanceTests {
    /// Random small trees sharing some files, so snapshots share chunks in varied ways.
    func makeTree(_ path: String, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        try? FileManager.default.removeItem(atPath: path)
        for index in 0..<Int.random(in: 2...5, using: &random) {
            let shared = random.chance(0.5)
            let size = Int.random(in: 1...200_000, using: &random)
            try write(randomBytes(size, seed: shared ? UInt64(index) : random.next()), to: "\(path)/dir\(index % 2)/file\(index)")
        }
    }

    @Test("prune keeps every chunk a kept snapshot needs, whatever was forgotten", arguments: 0..<4)
    func pruneProperty(seed: UInt64) async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        var random = SeededRandom(seed: 100 + seed)
        var snapshots: [(Snapshot, String)] = []
        for round in 0..<5 {
            let source = repo.directory.file("src\(round)/tree")
            try makeTree(source, seed: random.next())
            snapshots.append((try await repo.backUp(source), source))
        }
        let forgotten = snapshots.filter { _ in random.chance(0.5) }
        for (snapshot, _) in forgotten { try await repo.open().forget(snapshot.id) }
        let report = try await Pruner(repository: try repo.open()).prune()
        let check = try await Checker(repository: try repo.open()).check(readData: true)
        #expect(check.isClean && check.notes.isEmpty, "\(check.errors) \(check.notes)")
        let forgottenIDs = Set(forgotten.map(\.0.id))
        for (index, (snapshot, source)) in snapshots.enumerated() where !forgottenIDs.contains(snapshot.id) {
            let target = repo.directory.file("restored\(index)")
            _ = try await repo.restorer().restore(snapshot, into: target)
            #expect(FileManager.default.contentsEqual(atPath: source, andPath: "\(target)/tree"), "snapshot \(index) lost data after prune")
        }
        if forgotten.count == snapshots.count { await #expect(try repo.open().blobCount == 0) }
        #expect(report.packsKept + report.packsRewritten + report.packsDeleted > 0)
    }

    @Test("a prune opened before another process's backup finished keeps that backup's data")
    func pruneAfterConcurrentBackup() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let old = repo.directory.file("old")
        try write(randomBytes(300_000, seed: 21), to: "\(old)/a.bin")
        let forgotten = try await repo.backUp(old)
        let pruning = try await repo.open()  // its index is read now
        let late = repo.directory.file("late")
        try write(randomBytes(300_000, seed: 22), to: "\(late)/b.bin")
        let kept = try await repo.backUp(late)  // lands between the prune's open and its lock
        try await pruning.forget(forgotten.id)
        _ = try await Pruner(repository: pruning).prune()
        try await repo.expectIntact(kept, holding: late)
    }

    @Test("a backup opened before another process's prune finished stores again what the prune removed")
    func backupAfterConcurrentPrune() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("data")
        try write(randomBytes(300_000, seed: 23), to: "\(source)/a.bin")
        let first = try await repo.backUp(source)
        let backingUp = try await repo.open()  // its index still lists the data of `first`
        try await repo.open().forget(first.id)
        _ = try await Pruner(repository: try repo.open()).prune()
        let second = try await BackupRunner(repository: backingUp, parallelism: 1).run(paths: [source]).snapshot
        try await repo.expectIntact(second, holding: source)
    }

    @Test("diff names added, removed and modified paths")
    func diff() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("site")
        try write(Array("one".utf8), to: "\(source)/keep.txt")
        try write(Array("two".utf8), to: "\(source)/change.txt")
        try write(Array("three".utf8), to: "\(source)/old/gone.txt")
        let before = try await repo.backUp(source)
        try write(Array("TWO".utf8), to: "\(source)/change.txt")
        try FileManager.default.removeItem(atPath: "\(source)/old")
        try write(Array("four".utf8), to: "\(source)/new/added.txt")
        let after = try await repo.backUp(source)
        let changes = try await SnapshotDiff(repository: try repo.open()).compare(before, after).map(\.description)
        #expect(changes.contains("M /site/change.txt") && changes.contains("- /site/old/gone.txt") && changes.contains("+ /site/new/added.txt"))
        #expect(!changes.contains { $0.contains("keep.txt") }, "\(changes)")
    }

    @Test("rollback makes a directory exactly the snapshot: later files go, changed files come back")
    func rollback() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let site = repo.directory.file("site")
        try write(Array("v1".utf8), to: "\(site)/page.html")
        try write(randomBytes(100_000, seed: 5), to: "\(site)/assets/logo.png")
        let snapshot = try await repo.backUp(site)
        try write(Array("defaced".utf8), to: "\(site)/page.html")
        try write(Array("malware".utf8), to: "\(site)/assets/evil.js")
        _ = try await Rollback(repository: try repo.open()).rollBack(site, to: snapshot)
        #expect(try String(contentsOfFile: "\(site)/page.html", encoding: .utf8) == "v1")
        #expect(!FileManager.default.fileExists(atPath: "\(site)/assets/evil.js"))
        #expect(FileManager.default.fileExists(atPath: "\(site)/assets/logo.png"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.directory.path).allSatisfy { !$0.contains("zonal-") }, "no staging left behind")
        await #expect(throws: BackupError.self) { _ = try await Rollback(repository: try repo.open()).rollBack(repo.directory.file("elsewhere"), to: snapshot) }
    }

    @Test("copy re-encrypts snapshots into a second repository, once")
    func copy() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("data")
        try write(randomBytes(300_000, seed: 6), to: "\(source)/a.bin")
        let snapshot = try await repo.backUp(source)
        let offsite = repo.directory.file("offsite")
        try await Repository.initialize(at: offsite, password: "other", scryptRounds: 1 << 10)
        let target = try await Repository.open(at: offsite, password: "other")
        let copied = try await Copier(source: try repo.open(), target: target).copy([snapshot])
        #expect(copied.count == 1 && copied[0].original == snapshot.id)
        #expect(try await Copier(source: try repo.open(), target: try Repository.open(at: offsite, password: "other")).copy([snapshot]).isEmpty)
        let restored = repo.directory.file("restored")
        _ = try await Restorer(repository: try Repository.open(at: offsite, password: "other"), parallelism: 1).restore(copied[0], into: restored)
        #expect(FileManager.default.contentsEqual(atPath: "\(source)/a.bin", andPath: "\(restored)/data/a.bin"))
        await #expect(try Checker(repository: try Repository.open(at: offsite, password: "other")).check(readData: true).isClean)
    }
}
