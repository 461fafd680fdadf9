import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// `zonal up` runs the topology's backup policies: on their interval, with their retention.
@Suite("Scheduled backups", .serialized)
struct ScheduledBackupTests {
    enum RepositoryKind: String, CaseIterable, CustomTestStringConvertible {
        case directory, s3
        var testDescription: String { rawValue }
    }

    @Test(
        "zonal up backs up a policy's paths every interval, keeps what its retention says, and records each run as an event",
        arguments: RepositoryKind.allCases)
    func policyRunsOnItsInterval(kind: RepositoryKind) async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-scheduled")
        defer { directory.remove() }
        let server = kind == .s3 ? try await S3ServerFixture() : nil
        let repository = server?.repositoryLocation() ?? directory.file("repo")
        let environment = server == nil ? [:] : S3ServerFixture.environment
        try FileManager.default.createDirectory(atPath: directory.file("data/sub"), withIntermediateDirectories: true)
        _ = try directory.write("data/a.txt", String(repeating: "zonal ", count: 5000))
        _ = try directory.write("data/sub/b.txt", "second file")
        _ = try directory.write("data/skip.tmp", "left out")
        let password = try directory.writePrivate("password", "a scheduled passphrase\n")
        let file = try directory.write(
            "topology.yaml",
            """
            name: scheduled
            coordinator: { backend: embedded, host: \(LoopbackAddress.random()), port: 7379 }
            supervisor: { control_host: \(LoopbackAddress.random()), control_port: 7300, state_dir: \(directory.file("state")) }
            regions: [{ name: r, zones: [z] }]
            nodes: [{ name: n1, zone: z, address: \(LoopbackAddress.random()) }]
            backups:
              - name: docs
                paths: [\(directory.file("data"))]
                exclude: [skip.tmp]
                repository: \(repository)
                password_file: \(password)
                interval: 2s
                keep: { last: 2 }
            """)
        let up = try ProcessFixture(executable: ZonalBinary.path, arguments: ["up", file], outputPath: directory.file("up.out"), environment: environment)
        let events = directory.file("state/events.jsonl")
        let ran = await poll(timeout: .seconds(90)) {
            let text = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "backup-finished").count - 1 >= 3
        }
        await up.stop()
        let text = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
        #expect(ran != nil, "fewer than three scheduled backups: \(text.suffix(2000))")
        #expect(!text.contains("backup-failed"), "\(text.suffix(2000))")
        #expect(text.contains("saved: 2 files"), "\(text.suffix(2000))")

        let snapshots = try await ZonalBinary.run(
            ["backup", "snapshots", "--repo", repository, "--password-file", password], directory: directory, environment: environment)
        await server?.stop()
        #expect(snapshots.status == 0, "\(snapshots.output)")
        let listed = snapshots.output.split(separator: "\n").filter { $0.contains(directory.file("data")) || $0.contains("data") }
        #expect(listed.count == 2, "keep last 2 should leave two snapshots: \(snapshots.output)")
    }
}
