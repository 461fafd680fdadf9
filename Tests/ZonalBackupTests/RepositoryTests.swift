import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBackup

/// A repository with small chunks (fast tests, many chunks) in a temporary directory.
struct TestRepository {
    let directory: TemporaryDirectory
    let path: String
    static let password = "correct horse battery staple"

    /// `version`: the repository format version to write (an older one, to test reading it).
    init(version: Int = RepositoryParameters.newestVersion) async throws {
        directory = try TemporaryDirectory(prefix: "zonal-backup")
        path = directory.file("repo")
        var parameters = RepositoryParameters(id: "test", chunker: .init(minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10), packSize: 1 << 20)
        parameters.version = version
        try await Repository.initialize(at: path, password: Self.password, parameters: parameters, scryptRounds: 1 << 10)
    }

    func open() async throws -> Repository { try await Repository.open(at: path, password: Self.password) }

    /// One task at a time: tests of other targets need the other cooperative thread on time.
    func backUp(_ paths: String...) async throws -> Snapshot {
        try await BackupRunner(repository: try open(), parallelism: 1).run(paths: paths).snapshot
    }

    func restorer() async throws -> Restorer { Restorer(repository: try await open(), parallelism: 1) }

    /// Expects `check --read-data` to find nothing wrong and `snapshot` (of the single directory
    /// `source`) to restore exactly `source`.
    func expectIntact(_ snapshot: Snapshot, holding source: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let check = try await Checker(repository: try open()).check(readData: true)
        #expect(check.isClean, "\(check.errors)", sourceLocation: sourceLocation)
        let restored = directory.file("restored-\(snapshot.id.prefix(8))")
        _ = try await restorer().restore(snapshot, into: restored)
        let copy = "\(restored)/\((source as NSString).lastPathComponent)"
        #expect(
            FileManager.default.contentsEqual(atPath: source, andPath: copy), "snapshot \(snapshot.id.prefix(8)) does not restore \(source)",
            sourceLocation: sourceLocation)
    }
}

func write(_ bytes: [UInt8], to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
}

/// Leaves a UNIX socket file at `path`, as a server listening there would.
func makeSocket(at path: String) throws {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

func fileInfo(_ path: String) -> stat {
    var info = stat()
    lstat(path, &info)
    return info
}

/// Serialized: backups are CPU-heavy, and tests of other targets need the cooperative threads
/// on time (lease keep-alives).
@Suite("Backup repository", .serialized)
struct RepositoryTests {
    @Test("a tree with every kind of file comes back byte for byte with its metadata")
    func roundTrip() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("source")
        try write([], to: "\(source)/empty")
        try write(Array("hello\n".utf8), to: "\(source)/docs/héllo wörld ✓.txt")
        try write(randomBytes(3 << 20, seed: 7), to: "\(source)/big.bin")
        try write(Array(repeating: UInt8(ascii: "a"), count: 500_000), to: "\(source)/compressible.txt")
        // Sparse: 8 MiB with 4 KiB of data in the middle.
        let sparse = "\(source)/sparse.img"
        FileManager.default.createFile(atPath: sparse, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: sparse))
        try handle.truncate(atOffset: 8 << 20)
        try handle.seek(toOffset: 4 << 20)
        try handle.write(contentsOf: Data(randomBytes(4096, seed: 8)))
        try handle.close()
        try FileManager.default.createSymbolicLink(atPath: "\(source)/link", withDestinationPath: "docs/héllo wörld ✓.txt")
        #expect(link("\(source)/big.bin", "\(source)/docs/big-again.bin") == 0)
        #expect(link("\(source)/big.bin", "\(source)/big.link") == 0)
        chmod("\(source)/docs", 0o750)
        chmod("\(source)/empty", 0o640)
        var past = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789)]
        utimensat(AT_FDCWD, "\(source)/empty", &past, 0)
        #expect(mkfifo("\(source)/pipe", 0o620) == 0)
        let null = fileInfo("/dev/null")
        #expect(mknod("\(source)/null", S_IFCHR | 0o640, null.st_rdev) == 0, "the tests run as root")
        try makeSocket(at: "\(source)/listening.sock")

        let snapshot = try await repo.backUp(source)
        #expect(snapshot.summary.files == 7)
        let target = repo.directory.file("restored")
        // Two at a time: a hard link in the same directory as its file waits for the file.
        let result = try await Restorer(repository: try repo.open(), parallelism: 2).restore(snapshot, into: target)
        #expect(result.files == 5, "the other hard links are links, not files")
        let restored = "\(target)/source"
        for file in ["empty", "docs/héllo wörld ✓.txt", "big.bin", "compressible.txt", "sparse.img", "docs/big-again.bin"] {
            #expect(FileManager.default.contentsEqual(atPath: "\(source)/\(file)", andPath: "\(restored)/\(file)"), "\(file) differs")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(restored)/link") == "docs/héllo wörld ✓.txt")
        #expect(fileInfo("\(restored)/big.bin").st_ino == fileInfo("\(restored)/docs/big-again.bin").st_ino, "hard links stay linked")
        #expect(fileInfo("\(restored)/big.bin").st_ino == fileInfo("\(restored)/big.link").st_ino)
        #expect(FileManager.default.contentsEqual(atPath: "\(source)/big.bin", andPath: "\(restored)/big.link"))
        #expect(fileInfo("\(restored)/docs").st_mode & 0o7777 == 0o750)
        #expect(fileInfo("\(restored)/empty").st_mode & 0o7777 == 0o640)
        #expect(fileInfo("\(restored)/empty").st_mtim.tv_sec == 1_000_000_000 && fileInfo("\(restored)/empty").st_mtim.tv_nsec == 123_456_789)
        for special in ["pipe", "null"] {
            let original = fileInfo("\(source)/\(special)")
            let copy = fileInfo("\(restored)/\(special)")
            #expect(copy.st_mode == original.st_mode && copy.st_rdev == original.st_rdev && copy.st_mtim.tv_sec == original.st_mtim.tv_sec, "\(special)")
        }
        #expect(fileInfo("\(restored)/pipe").st_mode & S_IFMT == S_IFIFO && fileInfo("\(restored)/null").st_rdev == null.st_rdev)
        #expect(!FileManager.default.fileExists(atPath: "\(restored)/listening.sock"), "a socket belongs to its listener and is not recreated")
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        let sparseInfo = fileInfo("\(restored)/sparse.img")
        #expect(sparseInfo.st_size == 8 << 20 && Int(sparseInfo.st_blocks) * 512 < 1 << 20, "the sparse file takes \(sparseInfo.st_blocks * 512) bytes")
        await #expect(throws: BackupError.self) { _ = try await repo.restorer().restore(snapshot, into: target) }
    }

    @Test("names and link targets holding bytes 0x80–0xFF round-trip byte for byte, and diff -r finds nothing")
    func rawNames() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("latin1")
        try write(Array("fine".utf8), to: "\(source)/plain.txt")
        // "café" in ISO 8859-1, every high byte, a name that is UTF-8 of an escape scalar, and a
        // directory and a link target that are not UTF-8 either.
        let names: [[UInt8]] = [Array("caf".utf8) + [0xE9], Array(0x80...0xFF), Array("\u{EF80}".utf8), [0xC3], [0xFF, 0x2E, 0x74]]
        for (index, name) in names.enumerated() {
            let path = FileName.string(from: Array(source.utf8) + [0x2F] + name)
            let descriptor = FileName.withPath(path) { open($0, O_WRONLY | O_CREAT, 0o644) }
            #expect(descriptor >= 0)
            _ = [UInt8](repeating: UInt8(index), count: 10 + index).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        let directory = FileName.string(from: Array("\(source)/dir-".utf8) + [0xA0])
        #expect(FileName.withPath(directory) { mkdir($0, 0o755) } == 0)
        try write(Array("inside".utf8), to: "\(directory)/inside.txt")
        #expect(FileName.withPath(FileName.string(from: [0xE9, 0x2F, 0x78])) { target in FileName.withPath("\(source)/link") { symlink(target, $0) } } == 0)

        let result = try await BackupRunner(repository: try repo.open(), parallelism: 1).run(paths: [source])
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(result.snapshot.summary.files == names.count + 2)
        let restored = repo.directory.file("restored")
        _ = try await repo.restorer().restore(result.snapshot, into: restored)
        let diff = try ProcessFixture(
            executable: "/usr/bin/diff", arguments: ["-r", "--no-dereference", source, "\(restored)/latin1"], outputPath: repo.directory.file("diff.out"))
        #expect(await diff.waitForExit(timeout: .seconds(20)) == 0, "\(diff.output)")
        var target = [UInt8](repeating: 0, count: 64)
        let length = FileName.withPath("\(restored)/latin1/link") { path in
            target.withUnsafeMutableBufferPointer { $0.withMemoryRebound(to: CChar.self) { readlink(path, $0.baseAddress!, $0.count) } }
        }
        #expect(Array(target.prefix(max(length, 0))) == [0xE9, 0x2F, 0x78])
    }

    @Test("a version 1 repository whose trees were written before raw names (no format, plain UTF-8) restores its names unchanged")
    func oldTreeFormat() async throws {
        let repo = try await TestRepository(version: 1)
        defer { repo.directory.remove() }
        let source = repo.directory.file("old")
        try write(Array("x".utf8), to: "\(source)/a.txt")
        let snapshot = try await repo.backUp(source)
        let repository = try await repo.open()
        // The tree as an older Zonal wrote it: the same nodes, no `format`, one name with U+EF80.
        var root = try await repository.loadTree(snapshot.tree)
        var top = try await repository.loadTree(try #require(root.nodes.first?.subtree))
        top.nodes[0].name = "old-\u{EF80}.txt"
        top.format = nil
        let writer = PackWriter(repository: repository)
        let topID = try await Self.storeTree(top, in: repository, writer: writer)
        root.nodes[0].subtree = topID
        root.format = nil
        let rootID = try await Self.storeTree(root, in: repository, writer: writer)
        try await writer.finish()
        var old = snapshot
        old.id = Repository.randomName()
        old.tree = rootID
        try await repository.save(old)
        let restored = repo.directory.file("restored")
        _ = try await Restorer(repository: try await repo.open(), parallelism: 1).restore(old, into: restored)
        #expect(FileManager.default.fileExists(atPath: "\(restored)/old/old-\u{EF80}.txt"), "the name's UTF-8 bytes, not one byte per escape")
    }

    static func storeTree(_ tree: Tree, in repository: Repository, writer: PackWriter) async throws -> BlobID {
        let plain = Array(try Repository.json(tree))
        let id = repository.key.blobID(of: plain)
        if await writer.reserve(id) { try await writer.add(id, kind: .tree, stored: repository.codec.encode(plain), plainLength: plain.count) }
        return id
    }

    @Test("FileName is one to one: any bytes come back from their string; UTF-8 without escapes is left as it is", arguments: 0..<20)
    func fileNameRoundTrip(seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) &+ 0xF11E)
        for _ in 0..<200 {
            let bytes = (0..<Int(random.next() % 24)).map { _ in UInt8(truncatingIfNeeded: random.next() % 255 + 1) }
            #expect(FileName.bytes(of: FileName.string(from: bytes)) == bytes, "\(bytes)")
        }
        #expect(FileName.string(from: Array("Grüße/日本".utf8)) == "Grüße/日本")
        #expect(FileName.printable(FileName.string(from: [0x61, 0xE9])) == "a\\xE9")
    }

    @Test("a repository of a newer format version is refused with a clear error")
    func newerVersionRefused() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-backup")
        defer { directory.remove() }
        var parameters = RepositoryParameters(id: "future")
        parameters.version = RepositoryParameters.newestVersion + 1
        try await Repository.initialize(at: directory.file("repo"), password: "pw", parameters: parameters, scryptRounds: 1 << 10)
        await #expect {
            _ = try await Repository.open(at: directory.file("repo"), password: "pw")
        } throws: { error in
            "\(error)".contains("format version \(RepositoryParameters.newestVersion + 1)")
        }
    }

    @Test("with one-file-system a mount point below a path is kept empty; without, its files are saved")
    func oneFileSystem() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let source = repo.directory.file("host")
        try write(Array("local".utf8), to: "\(source)/etc/hostname")
        try FileManager.default.createDirectory(atPath: "\(source)/mnt/share", withIntermediateDirectories: true)
        try #require(geteuid() == 0, "mounting a tmpfs needs root, as the project's tests run")
        try #require(mount("tmpfs", "\(source)/mnt/share", "tmpfs", 0, "size=1m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount2("\(source)/mnt/share", Int32(MNT_DETACH)) }
        try write(Array("remote".utf8), to: "\(source)/mnt/share/remote.txt")
        func files(oneFileSystem: Bool) async throws -> [String] {
            let snapshot = try await BackupRunner(repository: try repo.open(), oneFileSystem: oneFileSystem, parallelism: 1).run(paths: [source]).snapshot
            let target = repo.directory.file("restored-\(oneFileSystem)")
            _ = try await repo.restorer().restore(snapshot, into: target)
            return try FileManager.default.subpathsOfDirectory(atPath: target).sorted()
        }
        #expect(try await files(oneFileSystem: true) == ["host", "host/etc", "host/etc/hostname", "host/mnt", "host/mnt/share"])
        #expect(try await files(oneFileSystem: false).contains("host/mnt/share/remote.txt"))
    }

    @Test("bytes inserted in the middle of a large file add little to the repository")
    func deduplication() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let file = repo.directory.file("data/large.bin")
        var content = randomBytes(4 << 20, seed: 9)
        try write(content, to: file)
        let first = try await repo.backUp(repo.directory.file("data"))
        #expect(first.summary.newBytes >= 4 << 20)
        let again = try await repo.backUp(repo.directory.file("data"))
        #expect(again.summary.newBlobs == 0, "an unchanged tree stores nothing new")
        content.insert(contentsOf: randomBytes(1000, seed: 10), at: 2 << 20)
        try write(content, to: file)
        let third = try await repo.backUp(repo.directory.file("data"))
        #expect(third.summary.newBytes < 512 << 10, "an insertion of 1000 bytes stored \(third.summary.newBytes) new bytes")
        await #expect(try repo.open().snapshots().count == 3)
    }

    @Test("a file rewritten with the same size and modification time is still read again (its change time moved)")
    func sneakyChange() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let file = repo.directory.file("data/config.txt")
        try write(Array("mode=safe\n".utf8), to: file)
        var fixed = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, file, &fixed, 0)
        let first = try await repo.backUp(repo.directory.file("data"))
        let unchanged = try await repo.backUp(repo.directory.file("data"))
        #expect(unchanged.summary.newBlobs == 0)
        try write(Array("mode=evil\n".utf8), to: file)
        utimensat(AT_FDCWD, file, &fixed, 0)
        let changed = try await repo.backUp(repo.directory.file("data"))
        let target = repo.directory.file("restored")
        _ = try await repo.restorer().restore(changed, into: target)
        #expect(try String(contentsOfFile: "\(target)/data/config.txt", encoding: .utf8) == "mode=evil\n")
        #expect(first.tree != changed.tree)
    }

    @Test("a wrong password is refused clearly and reads nothing")
    func wrongPassword() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        await #expect(throws: BackupError.wrongPassword) { try await Repository.open(at: repo.path, password: "guess") }
        #expect(BackupError.wrongPassword.description.contains("cannot be recovered"))
        await #expect(throws: BackupError.notARepository(repo.directory.path)) { try await Repository.open(at: repo.directory.path, password: "x") }
        await #expect(throws: BackupError.alreadyExists(repo.path)) { try await Repository.initialize(at: repo.path, password: "x") }
    }

    @Test("a flipped byte in a pack is found by check --read-data; snapshots in other packs still restore")
    func corruptPack() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        try write(randomBytes(600_000, seed: 11), to: repo.directory.file("one/a.bin"))
        let kept = try await repo.backUp(repo.directory.file("one"))
        let packsBefore = await Set(try repo.open().indexedPacks)
        try write(randomBytes(600_000, seed: 12), to: repo.directory.file("two/b.bin"))
        let damagedSnapshot = try await repo.backUp(repo.directory.file("two"))
        let newPack = try await #require(try repo.open().indexedPacks.subtracting(packsBefore).first)
        await #expect(try Checker(repository: try repo.open()).check(readData: true).isClean)

        let packPath = "\(repo.path)/\(Repository.packName(newPack))"
        chmod(packPath, 0o644)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: packPath)))
        bytes[1000] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: packPath))

        let structural = try await Checker(repository: try repo.open()).check(readData: false)
        #expect(structural.isClean, "without reading data the damage cannot be seen: \(structural.errors)")
        let report = try await Checker(repository: try repo.open()).check(readData: true)
        #expect(report.errors.contains { $0.contains("does not match its name") })
        #expect(report.errors.contains { $0.contains("snapshot \(damagedSnapshot.id.prefix(12))") && $0.contains("b.bin") })
        #expect(report.intactSnapshots == [kept.id])
        let target = repo.directory.file("restored")
        _ = try await repo.restorer().restore(kept, into: target)
        #expect(FileManager.default.contentsEqual(atPath: repo.directory.file("one/a.bin"), andPath: "\(target)/one/a.bin"))
        await #expect(throws: BackupError.self) {
            _ = try await repo.restorer().restore(damagedSnapshot, into: repo.directory.file("restored-2"))
        }
    }

    @Test("packs a crashed backup wrote without an index, or half wrote, leave the repository valid; the next backup completes; prune clears them")
    func interruptedBackup() async throws {
        let repo = try await TestRepository()
        defer { repo.directory.remove() }
        let repository = try await repo.open()
        let writer = PackWriter(repository: repository)
        let chunk = randomBytes(2 << 20, seed: 13)
        let id = repository.key.blobID(of: chunk)
        #expect(await writer.reserve(id))
        try await writer.add(id, kind: .data, stored: repository.codec.encode(chunk), plainLength: chunk.count)
        // The pack is written (it reached the pack size, and a task of its own writes it), the
        // index never is: as after kill -9.
        let written = try await poll(timeout: .seconds(30)) { try await !repository.store.list("data").isEmpty }
        #expect(written != nil, "the full pack was never written")
        let report = try await Checker(repository: try repo.open()).check(readData: true)
        #expect(report.isClean && report.notes.contains { $0.contains("in no index") }, "\(report)")
        try write(chunk, to: repo.directory.file("after/file.bin"))
        let snapshot = try await repo.backUp(repo.directory.file("after"))
        await #expect(try Checker(repository: try repo.open()).check(readData: true).intactSnapshots == [snapshot.id])

        // A pack cut short mid-write by kill -9 stays a temporary file: ignored, then pruned.
        let torn = "\(repo.path)/data/00/\(DurableFile.temporaryPrefix)4242"
        try write(randomBytes(1000, seed: 14), to: torn)
        await #expect(try Checker(repository: try repo.open()).check(readData: true).isClean)
        let pruned = try await Pruner(repository: try repo.open()).prune()
        #expect(pruned.temporariesRemoved == 1 && !FileManager.default.fileExists(atPath: torn), "\(pruned)")
        try await repo.expectIntact(snapshot, holding: repo.directory.file("after"))
    }

    @Test("a full disk fails the backup with the system's reason; the repository stays valid and the next backup completes")
    func fullDisk() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-backup-full")
        defer { directory.remove() }
        let mountPoint = directory.file("disk")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try #require(geteuid() == 0, "mounting a small tmpfs needs root, as the project's tests run")
        // The repository gets a 2 MiB file system of its own; filling it harms nothing else.
        try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=2m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount2(mountPoint, Int32(MNT_DETACH)) }
        let path = mountPoint + "/repo"
        try await Repository.initialize(
            at: path, password: TestRepository.password,
            parameters: RepositoryParameters(id: "full", chunker: .init(minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10), packSize: 1 << 20),
            scryptRounds: 1 << 10)
        let source = directory.file("source")
        try write(randomBytes(6 << 20, seed: 31), to: "\(source)/incompressible.bin")
        await #expect {
            _ = try await BackupRunner(repository: try Repository.open(at: path, password: TestRepository.password), parallelism: 1).run(paths: [source])
        } throws: { error in
            "\(error)".contains("No space left on device")
        }
        let afterFailure = try await Checker(repository: try Repository.open(at: path, password: TestRepository.password)).check(readData: true)
        #expect(afterFailure.isClean && afterFailure.snapshots == 0, "\(afterFailure)")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: path).allSatisfy { !DurableFile.isTemporary($0) }, "no temporary left behind")
        #expect(try FileManager.default.contentsOfDirectory(atPath: path + "/locks").isEmpty, "the lock was released")

        try #require(mount("tmpfs", mountPoint, "tmpfs", UInt(MS_REMOUNT), "size=32m") == 0, "remount: \(String(cString: strerror(errno)))")
        let repository = try await Repository.open(at: path, password: TestRepository.password)
        let snapshot = try await BackupRunner(repository: repository, parallelism: 1).run(paths: [source]).snapshot
        let restored = directory.file("restored")
        _ = try await Restorer(repository: repository, parallelism: 1).restore(snapshot, into: restored)
        #expect(FileManager.default.contentsEqual(atPath: "\(source)/incompressible.bin", andPath: "\(restored)/source/incompressible.bin"))
        await #expect(try Checker(repository: repository).check(readData: true).intactSnapshots == [snapshot.id])
    }
}
