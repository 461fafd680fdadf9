import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBackup

@Suite("Restore plan")
struct RestorePlanTests {
    func blob(_ name: String, offset: Int, length: Int) -> (BlobID, PackedBlob) {
        let id = BlobID(bytes: Array((Array(name.utf8) + [UInt8](repeating: 0, count: 32)).prefix(32)))
        return (id, PackedBlob(id: id, kind: .data, offset: offset, length: length, plainLength: length))
    }

    func piece(_ name: String, pack: String, offset: Int, length: Int, at fileOffset: Int64) -> RestorePlan.Piece {
        let (id, stored) = blob(name, offset: offset, length: length)
        return RestorePlan.Piece(id: id, blob: stored, pack: pack, fileOffset: fileOffset)
    }

    @Test("each pack is read front to back, neighbours in one read; a gap too wide or a read too long starts another")
    func coalesces() {
        let plan = RestorePlan(
            pieces: [
                [piece("c", pack: "p1", offset: 2000, length: 500, at: 0), piece("a", pack: "p1", offset: 0, length: 1000, at: 500)],
                [piece("b", pack: "p1", offset: 1100, length: 800, at: 0)],
                [piece("far", pack: "p1", offset: 100_000, length: 10, at: 0), piece("q", pack: "p2", offset: 0, length: 10, at: 10)],
                [piece("long", pack: "p2", offset: 20, length: 5000, at: 0)],
            ], maximumRead: 4000, maximumGap: 1000)
        #expect(plan.reads.map { "\($0.pack)@\($0.offset)+\($0.length):\($0.blobs.count)" } == ["p1@0+2500:3", "p1@100000+10:1", "p2@0+10:1", "p2@20+5000:1"])
        #expect(plan.reads[0].blobs.map { $0.blob.offset } == [0, 1100, 2000])
        #expect(plan.reads[0].blobs[2].targets == [.init(file: 0, offset: 0)])
    }

    @Test("a blob several files (or one file twice) hold is read once and written everywhere")
    func sharedBlobs() {
        let plan = RestorePlan(pieces: [
            [piece("x", pack: "p", offset: 0, length: 100, at: 0), piece("x", pack: "p", offset: 0, length: 100, at: 100)],
            [piece("x", pack: "p", offset: 0, length: 100, at: 0)],
        ])
        #expect(plan.reads.count == 1 && plan.reads[0].blobs.count == 1)
        #expect(Set(plan.reads[0].blobs[0].targets) == [.init(file: 0, offset: 0), .init(file: 0, offset: 100), .init(file: 1, offset: 0)])
    }

    @Test("seeded random layouts: every piece of every file is planned exactly once, inside its read")
    func seededLayouts() {
        var random = SeededRandom(seed: 19)
        for _ in 0..<50 {
            var files: [[RestorePlan.Piece]] = []
            for file in 0..<Int(random.next() % 20) {
                var offset: Int64 = 0
                files.append(
                    (0..<Int(random.next() % 6)).map { index in
                        let length = Int(random.next() % 5000) + 1
                        defer { offset += Int64(length) }
                        let name = "b\(random.next() % 40)"
                        let slot = Int(name.dropFirst())!
                        return piece("\(name)-\(file)-\(index)", pack: "p\(slot % 3)", offset: slot * 6000, length: length, at: offset)
                    })
            }
            let plan = RestorePlan(pieces: files, maximumRead: 20_000, maximumGap: 3000)
            var planned: [String: Int] = [:]
            for read in plan.reads {
                for blob in read.blobs {
                    #expect(blob.blob.offset >= read.offset && blob.blob.offset + blob.blob.length <= read.offset + read.length)
                    for target in blob.targets { planned["\(blob.id)@\(target.file)@\(target.offset)", default: 0] += 1 }
                }
            }
            let wanted = files.enumerated().flatMap { file, pieces in pieces.map { "\($0.id)@\(file)@\($0.fileOffset)" } }
            #expect(planned.count == wanted.count && planned.values.allSatisfy { $0 == 1 } && Set(planned.keys) == Set(wanted))
        }
    }
}

@Suite("Restores", .serialized)
struct RestoreTests {
    @Test("a file with several holes inside its chunks restores with the same allocated size, within one block per hole")
    func holesInsideChunks() async throws {
        let repository = try await TestRepository()
        let source = repository.directory.file("sparse")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let path = "\(source)/disk.img"
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o644)
        // 20 MiB: 4 bytes, a hole, 100 KiB of data, two more holes around 10 bytes, 4 bytes at the end.
        for (offset, bytes) in [
            (0, [UInt8](repeating: 7, count: 4)), (5 << 20, randomBytes(100 << 10, seed: 3)), (9 << 20 + 123, Array("ten bytes!".utf8)),
            ((20 << 20) - 4, [1, 2, 3, 4]),
        ] {
            _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        }
        fsync(descriptor)
        close(descriptor)
        let original = fileInfo(path)
        let snapshot = try await repository.backUp(source)
        let restored = repository.directory.file("restored")
        _ = try await repository.restorer().restore(snapshot, into: restored)
        let copy = fileInfo("\(restored)/sparse/disk.img")
        #expect(FileManager.default.contentsEqual(atPath: path, andPath: "\(restored)/sparse/disk.img"))
        #expect(copy.st_size == 20 << 20)
        let holes = 4
        #expect(
            Int(copy.st_blocks) * 512 <= Int(original.st_blocks) * 512 + holes * 4096,
            "restored \(copy.st_blocks * 512) bytes in \(dataSegments("\(restored)/sparse/disk.img")), the original \(original.st_blocks * 512) in \(dataSegments(path))"
        )
    }

    @Test("many small files in several directories restore byte for byte with their modes and times, directories' times last")
    func manySmallFiles() async throws {
        let repository = try await TestRepository()
        let source = repository.directory.file("tree")
        var random = SeededRandom(seed: 5)
        for index in 0..<1500 {
            let path = "\(source)/d\(index % 17)/e\(index % 5)/f\(index).txt"
            try write(randomBytes(Int(random.next() % 3000), seed: UInt64(index)), to: path)
            chmod(path, mode_t(0o600 + (index % 2) * 0o44))
        }
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 5), timespec(tv_sec: 1_000_000, tv_nsec: 5)]
        utimensat(AT_FDCWD, "\(source)/d3", &times, 0)
        let snapshot = try await repository.backUp(source)
        let restored = repository.directory.file("restored")
        let result = try await Restorer(repository: try repository.open(), parallelism: 3).restore(snapshot, into: restored)
        #expect(result.files == 1500 && result.directories == 1 + 17 + 17 * 5)
        #expect(FileManager.default.contentsEqual(atPath: source, andPath: "\(restored)/tree"))
        #expect(fileInfo("\(restored)/tree/d0/e0/f0.txt").st_mode & 0o777 == 0o600)
        #expect(fileInfo("\(restored)/tree/d1/e1/f1.txt").st_mode & 0o777 == 0o644)
        #expect(fileInfo("\(restored)/tree/d3").st_mtim.tv_sec == 1_000_000, "a directory's time is set after its content is written")
    }
}

/// The parts of a file that hold data (not holes), as offset and length.
func dataSegments(_ path: String) -> [(Int, Int)] {
    let descriptor = open(path, O_RDONLY)
    defer { close(descriptor) }
    var segments: [(Int, Int)] = []
    var offset: off_t = 0
    while true {
        let data = lseek(descriptor, offset, 3)  // SEEK_DATA
        guard data >= 0 else { return segments }
        let hole = lseek(descriptor, data, 4)  // SEEK_HOLE
        segments.append((Int(data), Int(hole - data)))
        offset = hole
    }
}

@Suite("Choosing snapshots", .serialized)
struct SnapshotChoiceTests {
    @Test("snapshots named by prefix come in the order given, `latest` is the newest, none named means all; an unknown prefix is an error")
    func named() async throws {
        let repository = try await TestRepository()
        let source = repository.directory.file("s")
        try write(Array("one".utf8), to: "\(source)/f")
        let first = try await repository.backUp(source)
        try write(Array("two".utf8), to: "\(source)/f")
        let second = try await repository.backUp(source)
        let opened = try await repository.open()
        #expect(try await opened.snapshots(named: []).map(\.id) == [first.id, second.id])
        #expect(
            try await opened.snapshots(named: [String(second.id.prefix(8)), "latest", String(first.id.prefix(8))]).map(\.id) == [
                second.id, second.id, first.id,
            ])
        await #expect(throws: BackupError.self) { _ = try await opened.snapshots(named: ["ffffffffffff"]) }
    }
}
