import Testing
import ZonalCore

@testable import ZonalSupervisor

@Suite("Backup scheduler")
struct BackupSchedulerTests {
    @Test("a policy's retention becomes the forget options, rules that are off left out")
    func forgetArguments() {
        #expect(Retention(last: 3, daily: 7).forgetArguments == ["--keep-last", "3", "--keep-daily", "7"])
        #expect(Retention().forgetArguments.isEmpty)
    }
}
