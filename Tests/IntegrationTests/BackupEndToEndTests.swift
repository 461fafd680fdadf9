import Foundation
import Testing
import ZonalTesting

/// `zonal backup` as an operator runs it, killed with SIGKILL in the middle of a backup.
@Suite("zonal backup end to end", .serialized)
struct BackupEndToEndTests {
    @Test("kill -9 in the middle of a backup leaves a repository that check accepts; the next backup completes")
    func killedBackup() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-backup-e2e")
        defer { directory.remove() }
        let environment = ["ZONAL_BACKUP_PASSWORD": "pw", "ZONAL_BACKUP_REPOSITORY": directory.file("repo")]
        func zonal(_ arguments: String...) async throws -> (Int32, String) {
            try await ProcessFixtureRun.run(arguments, environment: environment, directory: directory)
        }
        #expect(try await zonal("backup", "init").0 == 0)
        // 64 MiB of incompressible data in 8 files: four packs, time enough to be interrupted.
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        var random = SeededRandom(seed: 42)
        for index in 0..<8 {
            let bytes = (0..<(8 << 20) / 8).map { _ in random.next() }
            try bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory.file("data/file\(index).bin"))) }
        }
        // Niced, so that the machine stays responsive for the tests running beside this one.
        let backup = try ProcessFixture(
            executable: "/usr/bin/nice", arguments: ["-n", "15", ZonalBinary.path, "backup", directory.file("data")],
            outputPath: directory.file("killed.out"), environment: environment)
        // Killed as soon as the first pack is in place: the rest is still being read.
        let packWritten = await poll(every: .milliseconds(5), timeout: .seconds(60)) {
            ((try? FileManager.default.subpathsOfDirectory(atPath: directory.file("repo/data"))) ?? []).contains {
                $0.split(separator: "/").count == 2 && !$0.contains(".tmp-")
            }
        }
        backup.signal(SIGKILL)
        _ = await backup.waitForExit(timeout: .seconds(10))
        #expect(packWritten != nil, "no pack appeared before the kill: \(backup.output)")
        #expect(!backup.output.contains("saved"), "the backup finished before it could be killed; the test proves nothing")

        let (checkStatus, checkOutput) = try await zonal("backup", "check", "--read-data")
        #expect(checkStatus == 0 && checkOutput.contains("no errors"), "\(checkOutput)")
        let (status, output) = try await zonal("backup", directory.file("data"))
        #expect(status == 0 && output.contains("snapshot") && output.contains("8 files"), "\(output)")
        let (restoreStatus, _) = try await zonal("backup", "restore", "latest", "--target", directory.file("restored"))
        #expect(restoreStatus == 0)
        #expect(FileManager.default.contentsEqual(atPath: directory.file("data"), andPath: directory.file("restored/data")))
        // Keys, locks, index, packs and snapshots: nothing in the repository is for other users.
        let repository = directory.file("repo")
        for entry in ["."] + (try FileManager.default.subpathsOfDirectory(atPath: repository)) {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: "\(repository)/\(entry)")[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(entry) has mode \(String(mode, radix: 8))")
        }
        let (wrongStatus, wrongOutput) = try await ProcessFixtureRun.run(
            ["backup", "snapshots"], environment: environment.merging(["ZONAL_BACKUP_PASSWORD": "nope"]) { $1 },
            directory: directory)
        #expect(wrongStatus == 1 && wrongOutput.contains("wrong password"), "\(wrongOutput)")
    }

    @Test(
        "files and directories the backup may not read, and device nodes a restore may not make, are named in warnings; the rest is done and the exit status is 1"
    )
    func unreadableFiles() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-backup-perm")
        defer { directory.remove() }
        chmod(directory.path, 0o755)
        let environment = ["ZONAL_BACKUP_PASSWORD": "pw", "ZONAL_BACKUP_REPOSITORY": directory.file("repo")]
        func zonal(_ arguments: String...) async throws -> (Int32, String) {
            try await ProcessFixtureRun.run(arguments, environment: environment, directory: directory, prefix: ProcessFixtureRun.asUnprivileged)
        }
        let data = directory.file("data")
        try FileManager.default.createDirectory(atPath: "\(data)/private", withIntermediateDirectories: true)
        try "shared\n".write(toFile: "\(data)/public.txt", atomically: false, encoding: .utf8)
        try "keys\n".write(toFile: "\(data)/secret.txt", atomically: false, encoding: .utf8)
        try "more keys\n".write(toFile: "\(data)/private/inner.txt", atomically: false, encoding: .utf8)
        for path in [data, "\(data)/public.txt"] { chmod(path, 0o755) }
        chmod("\(data)/secret.txt", 0o000)
        chmod("\(data)/private", 0o000)
        var null = stat()
        stat("/dev/null", &null)
        #expect(mknod("\(data)/null", S_IFCHR | 0o666, null.st_rdev) == 0, "the tests run as root")
        for owned in ["repo", "mine"] {
            try FileManager.default.createDirectory(atPath: directory.file(owned), withIntermediateDirectories: true)
            if getuid() == 0 { chown(directory.file(owned), 65534, 65534) }
        }

        #expect(try await zonal("backup", "init").0 == 0)
        let (status, output) = try await zonal("backup", data)
        #expect(status == 1, "\(output)")
        #expect(output.contains("\(data)/secret.txt: cannot read: Permission denied"), "\(output)")
        #expect(output.contains("\(data)/private: cannot list: Permission denied"), "\(output)")
        #expect(output.contains("snapshot") && output.contains("saved"), "\(output)")

        let (restoreStatus, restoreOutput) = try await ProcessFixtureRun.run(
            ["backup", "restore", "latest", "--target", directory.file("restored")], environment: environment, directory: directory)
        #expect(restoreStatus == 0, "\(restoreOutput)")
        #expect(try String(contentsOfFile: directory.file("restored/data/public.txt"), encoding: .utf8) == "shared\n")
        #expect(!FileManager.default.fileExists(atPath: directory.file("restored/data/secret.txt")))
        var restoredNull = stat()
        #expect(stat(directory.file("restored/data/null"), &restoredNull) == 0 && restoredNull.st_rdev == null.st_rdev, "root restores the device node")

        // Without root the device node cannot be made: named in a warning, everything else restored, exit status 1.
        let (unprivilegedStatus, unprivilegedOutput) = try await zonal("backup", "restore", "latest", "--target", directory.file("mine/restored"))
        #expect(unprivilegedStatus == 1, "\(unprivilegedOutput)")
        #expect(
            unprivilegedOutput.contains("\(directory.file("mine/restored"))/data/null: device node not created: Operation not permitted"),
            "\(unprivilegedOutput)")
        #expect(try String(contentsOfFile: directory.file("mine/restored/data/public.txt"), encoding: .utf8) == "shared\n")
        chmod("\(data)/private", 0o755)
    }

    @Test("the whole cycle against an S3 endpoint: init creates the bucket, backup, check, restore, copy back to a directory")
    func s3Repository() async throws {
        let server = try await S3ServerFixture()
        let directory = try TemporaryDirectory(prefix: "zonal-backup-s3")
        defer { directory.remove() }
        let location = server.repositoryLocation(prefix: "hosts/web-1")
        let environment = S3ServerFixture.environment.merging(["ZONAL_BACKUP_PASSWORD": "pw", "ZONAL_BACKUP_REPOSITORY": location]) { $1 }
        func zonal(_ arguments: String...) async throws -> (Int32, String) {
            try await ProcessFixtureRun.run(arguments, environment: environment, directory: directory)
        }
        var random = SeededRandom(seed: 7)
        for index in 0..<3 {
            let bytes = (0..<(3 << 20) / 8).map { _ in random.next() }
            try FileManager.default.createDirectory(atPath: directory.file("site/part\(index)"), withIntermediateDirectories: true)
            try bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory.file("site/part\(index)/blob.bin"))) }
        }
        let (initStatus, initOutput) = try await zonal("backup", "init")
        #expect(initStatus == 0 && initOutput.contains("at \(location)"), "\(initOutput)")
        let (status, output) = try await zonal("backup", directory.file("site"))
        #expect(status == 0 && output.contains("3 files"), "\(output)")
        let (checkStatus, checkOutput) = try await zonal("backup", "check", "--read-data")
        #expect(checkStatus == 0 && checkOutput.contains("no errors"), "\(checkOutput)")
        let (restoreStatus, restoreOutput) = try await zonal("backup", "restore", "latest", "--target", directory.file("restored"))
        #expect(restoreStatus == 0, "\(restoreOutput)")
        #expect(FileManager.default.contentsEqual(atPath: directory.file("site"), andPath: directory.file("restored/site")))

        let (localInit, _) = try await ProcessFixtureRun.run(
            ["backup", "init", "--repo", directory.file("local")], environment: environment, directory: directory)
        #expect(localInit == 0)
        let (copyStatus, copyOutput) = try await ProcessFixtureRun.run(
            ["backup", "copy", "--to", directory.file("local")], environment: environment.merging(["ZONAL_BACKUP_TO_PASSWORD": "pw"]) { $1 },
            directory: directory)
        #expect(copyStatus == 0 && copyOutput.contains("1 snapshot(s) copied"), "\(copyOutput)")
        let (missingStatus, missingOutput) = try await ProcessFixtureRun.run(
            ["backup", "snapshots"], environment: environment.merging(["AWS_SECRET_ACCESS_KEY": ""]) { $1 }, directory: directory)
        #expect(missingStatus == 1 && missingOutput.contains("AWS_SECRET_ACCESS_KEY"), "\(missingOutput)")
        await server.stop()
    }
}

/// Runs `zonal` to completion with an environment of its own.
enum ProcessFixtureRun {
    /// Runs it as user `nobody` when the tests run as root (who may read anything).
    static let asUnprivileged = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] : []

    static func run(_ arguments: [String], environment: [String: String], directory: TemporaryDirectory, prefix: [String] = []) async throws -> (Int32, String)
    {
        let fixture = try ProcessFixture(
            executable: "/usr/bin/nice", arguments: ["-n", "15"] + prefix + [ZonalBinary.path] + arguments,
            outputPath: directory.file("run-\(UUID().uuidString)"), environment: environment)
        return (await fixture.waitForExit(timeout: .seconds(120)) ?? -1, fixture.output)
    }
}
