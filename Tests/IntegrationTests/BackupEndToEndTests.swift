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
        let backup = try ProcessFixture(executable: "/usr/bin/nice", arguments: ["-n", "15", ZonalBinary.path, "backup", directory.file("data")],
                                        outputPath: directory.file("killed.out"), environment: environment)
        // Killed as soon as the first pack is in place: the rest is still being read.
        let packWritten = await poll(every: .milliseconds(5), timeout: .seconds(60)) {
            ((try? FileManager.default.subpathsOfDirectory(atPath: directory.file("repo/data"))) ?? []).contains { $0.split(separator: "/").count == 2 && !$0.contains(".tmp-") }
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
        let (wrongStatus, wrongOutput) = try await ProcessFixtureRun.run(["backup", "snapshots"], environment: environment.merging(["ZONAL_BACKUP_PASSWORD": "nope"]) { $1 },
                                                                         directory: directory)
        #expect(wrongStatus == 1 && wrongOutput.contains("wrong password"), "\(wrongOutput)")
    }
}

/// Runs `zonal` to completion with an environment of its own.
enum ProcessFixtureRun {
    static func run(_ arguments: [String], environment: [String: String], directory: TemporaryDirectory) async throws -> (Int32, String) {
        let fixture = try ProcessFixture(executable: "/usr/bin/nice", arguments: ["-n", "15", ZonalBinary.path] + arguments,
                                         outputPath: directory.file("run-\(UUID().uuidString)"), environment: environment)
        return (await fixture.waitForExit(timeout: .seconds(120)) ?? -1, fixture.output)
    }
}
