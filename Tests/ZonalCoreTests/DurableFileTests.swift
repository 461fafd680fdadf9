import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// The write path every durable Zonal file takes: whole or not at all, even on a full disk.
@Suite("Durable file writes")
struct DurableFileTests {
    @Test("a write replaces the file whole, with the mode and owner asked for, and leaves no temporary")
    func replaces() throws {
        let directory = try TemporaryDirectory(prefix: "zonal-durable")
        defer { directory.remove() }
        let target = directory.file("state")
        try DurableFile.write(Array("first".utf8), to: target, permissions: 0o444)
        try DurableFile.write(Data("second".utf8), to: target, permissions: 0o640, owner: geteuid() == 0 ? FileOwner(uid: 65534, gid: 65534) : nil)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "second")
        var info = stat()
        #expect(stat(target, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o640)
        if geteuid() == 0 { #expect(info.st_uid == 65534 && info.st_gid == 65534) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state"])
    }

    @Test("a full disk fails the write with the system's reason; the old file stays and no temporary is left")
    func fullDisk() throws {
        let directory = try TemporaryDirectory(prefix: "zonal-durable-full")
        defer { directory.remove() }
        // A 64 KiB file system of its own: filling it harms nothing else on the machine.
        try #require(geteuid() == 0, "mounting a small tmpfs needs root, as the project's tests run")
        try #require(mount("tmpfs", directory.path, "tmpfs", 0, "size=64k") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount2(directory.path, Int32(MNT_DETACH)) }
        let target = directory.file("state")
        try DurableFile.write(Array("kept".utf8), to: target)
        let failure = #expect(throws: DurableFileError.self) {
            try DurableFile.write([UInt8](repeating: 7, count: 1 << 20), to: target)
        }
        #expect(failure?.description == "cannot write \(target): No space left on device")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "kept")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state"])
    }

    @Test("a missing directory is named in the error")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory(prefix: "zonal-durable-missing")
        defer { directory.remove() }
        let failure = #expect(throws: DurableFileError.self) {
            try DurableFile.write(Array("x".utf8), to: directory.file("absent/state"))
        }
        #expect(failure?.path.hasPrefix(directory.file("absent/") + DurableFile.temporaryPrefix) == true)
        #expect(failure?.description.hasSuffix(": No such file or directory") == true, "\(String(describing: failure))")
        #expect(DurableFile.isTemporary(failure?.path ?? ""))
    }
}
