import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// `zonal up` runs the topology's backup policies: on their interval, with their retention.
@Suite("Scheduled backups", .serialized)
struct ScheduledBackupTests {
    enum RepositoryKind: String, CaseIterable, CustomTestStringConvertible {
        /// A directory, an S3 endpoint (moto) with keys in the environment of `zonal up`, and a
        /// Zonal object store of the same topology (`store:`), which needs neither.
        case directory, s3, store
        var testDescription: String { rawValue }
    }

    @Test(
        "zonal up backs up a policy's paths every interval, keeps what its retention says, and records each run as an event",
        arguments: RepositoryKind.allCases)
    func policyRunsOnItsInterval(kind: RepositoryKind) async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-scheduled")
        defer { directory.remove() }
        let server = kind == .s3 ? try await S3ServerFixture() : nil
        let node = LoopbackAddress.random()
        let repository = kind == .store ? "store:objects/files/docs" : server?.repositoryLocation() ?? directory.file("repo")
        let environment = server == nil ? [:] : S3ServerFixture.environment
        let store = """
            services:
              - { name: objects, kind: object-store, nodes: [n1], port: 9100, admin_port: 9101, objects: { replicas: 1, write_quorum: 1 } }
              - { name: s3, kind: s3, nodes: [n1], port: 9200, s3: { store: objects } }
            """
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
            nodes: [{ name: n1, zone: z, address: \(node) }]
            \(kind == .store ? store : "")
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
        let text = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
        #expect(ran != nil, "fewer than three scheduled backups: \(text.suffix(2000))")
        #expect(!text.contains("backup-failed"), "\(text.suffix(2000))")
        #expect(text.contains("saved: 2 files"), "\(text.suffix(2000))")

        // A store's repository is read through its front end with the store's root key.
        var reading = (repository: repository, environment: environment)
        if kind == .store {
            let credentials = try await ZonalBinary.run(["objects", "credentials", "--topology", file], directory: directory)
            reading.repository = "s3:http://\(node):9200/files/docs"
            for line in credentials.output.split(separator: "\n") where line.hasPrefix("export ") {
                let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { reading.environment[pair[0]] = pair[1] }
            }
            reading.environment["AWS_DEFAULT_REGION"] = "r"
        }
        // Backups go on meanwhile: a listing can fall between a snapshot and its retention.
        var snapshots: (status: Int32, output: String) = (-1, "")
        var listed: [Substring] = []
        _ = await poll(timeout: .seconds(30)) {
            guard
                let result = try? await ZonalBinary.run(
                    ["backup", "snapshots", "--repo", reading.repository, "--password-file", password], directory: directory,
                    environment: reading.environment)
            else { return false }
            snapshots = result
            listed = result.output.split(separator: "\n").filter { $0.contains("data") }
            return result.status == 0 && listed.count == 2
        }
        await up.stop()
        await server?.stop()
        #expect(snapshots.status == 0, "\(snapshots.output)")
        #expect(listed.count == 2, "keep last 2 should leave two snapshots: \(snapshots.output)")
    }
}
