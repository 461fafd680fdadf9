import Foundation
import Testing
import ZonalTesting

@testable import ZonalProcess

/// Children see only what they need of the supervisor's environment.
@Suite("Environment of child processes")
struct ChildEnvironmentTests {
    static let supervisor = [
        "PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "ZONAL_TOKEN_FILE": "/s/admin-token",
        "ZONAL_BACKUP_PASSWORD": "secret", "ZONAL_TOKEN": "tok", "AWS_SECRET_ACCESS_KEY": "key", "AWS_ACCESS_KEY_ID": "id", "SSH_AUTH_SOCK": "/tmp/agent",
    ]

    @Test("secrets of the supervisor reach no child unless given; the shared variables and the child's own do")
    func cleanEnvironment() {
        let spec = ProcessPlan(executable: "/bin/true", arguments: [], environment: ["ZONAL_PARENT_PID": "7"], logFile: "/dev/null")
        let environment = spec.childEnvironment(from: Self.supervisor)
        #expect(
            environment == [
                "PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C", "ZONAL_TOKEN_FILE": "/s/admin-token", "ZONAL_PARENT_PID": "7",
            ])
    }

    @Test("a scheduled backup is given the repository's secrets explicitly")
    func backupSecrets() {
        let secrets = ProcessPlan.passing(prefixes: ["ZONAL_BACKUP_", "AWS_"], from: Self.supervisor)
        #expect(secrets == ["ZONAL_BACKUP_PASSWORD": "secret", "AWS_SECRET_ACCESS_KEY": "key", "AWS_ACCESS_KEY_ID": "id"])
    }

    @Test("a real child's environment holds nothing but what it was given and the shared variables")
    func realChild() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.file("env.log")
        let child = try await ChildProcess.launch(ProcessPlan(executable: "/usr/bin/env", arguments: [], environment: ["GIVEN": "yes"], logFile: log))
        #expect(await child.termination.value == "exited with status 0")
        let names = Set(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(names.contains("GIVEN") && names.contains("PATH"))
        let unexpected = names.filter { !$0.hasPrefix("LC_") && !ProcessPlan.sharedVariables.contains($0) && $0 != "GIVEN" }
        #expect(unexpected.isEmpty, "unexpected variables: \(unexpected)")
    }
}
