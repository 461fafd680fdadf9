import Testing

@testable import ZonalCore

@Suite("Backup policies in topology files")
struct BackupSpecTopologyTests {
    let errors = TopologyErrorTests()

    @Test("a policy is read with its paths, excludes, retention and interval")
    func policy() throws {
        let topology = try TopologyLoader.parse(
            TopologyErrorTests.header + """

                backups:
                  - name: etc
                    paths: [/etc, /srv/app]
                    exclude: [.cache, "*.tmp"]
                    one_file_system: true
                    repository: /backups/repo
                    password_file: /etc/zonal/backup.pass
                    interval: 1h
                    keep: { last: 3, daily: 7 }
                    prune: false
                """)
        let policy = try #require(topology.backups.first)
        #expect(policy.paths == ["/etc", "/srv/app"] && policy.excludes == [".cache", "*.tmp"] && policy.oneFileSystem)
        #expect(policy.interval == .seconds(3600) && !policy.prune)
        #expect(policy.retention == Retention(last: 3, daily: 7))
    }

    @Test func missingPasswordFile() {
        errors.expectProblem(
            TopologyErrorTests.header + "\nbackups:\n  - { name: b, paths: [/etc], repository: /r, interval: 1h }\n", line: 11,
            "backup policy b is missing the required key `password_file`")
    }

    @Test func oneFileSystemMustBeABoolean() {
        errors.expectProblem(
            TopologyErrorTests.header
                + "\nbackups:\n  - { name: b, paths: [/etc], repository: /r, password_file: /p, interval: 1h, one_file_system: sometimes }\n",
            line: 11, "`one_file_system` of backup policy b must be true or false")
    }

    @Test func duplicateNames() {
        let policy = "  - { name: b, paths: [/etc], repository: /r, password_file: /p, interval: 1h }\n"
        let found = errors.problems(TopologyErrorTests.header + "\nbackups:\n" + policy + policy)
        #expect(found.contains { $0.message.contains("backup policy") && $0.message.contains("b") }, "\(found)")
    }
}
