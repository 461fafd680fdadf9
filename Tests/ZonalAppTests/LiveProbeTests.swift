import Foundation
import Logging
import ServiceLifecycle
import Testing
import ZonalCore
import ZonalHealth
import ZonalObservability
import ZonalTesting

@testable import ZonalApp

/// The HTTP health probe against a real running backend, switched slow and failing.
@Suite("HTTP probe against a live backend")
struct LiveProbeTests {
    @Test("healthy, then failing (status), then slow (timeout), then healthy again")
    func probeFollowsFaults() async throws {
        let host = LoopbackAddress.random()
        let port = Int.random(in: 20000...40000)
        let faults = FaultSwitch()
        let server = AppServer(
            plan: AppPlan(service: "web", node: "n", zone: "z", region: "r", host: host, port: port, adminPort: nil),
            faults: faults, tokens: AdminTokenSource(fixed: nil), logger: Logger(label: "test.app"))
        let group = ServiceGroup(configuration: .init(services: server.applications(), logger: Logger(label: "test.app")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let probe = HTTPProbe(url: "http://\(host):\(port)/health", expectedStatus: 200, bodyContains: "\"zone\"", timeout: .milliseconds(1500))

        #expect(await poll(timeout: .seconds(10)) { await probe.check().isSuccess } != nil)
        faults.fault = .failing(status: 503)
        #expect(await probe.check() == .failure(reason: "GET http://\(host):\(port)/health answered 503, expected 200"))
        faults.fault = .slow(.seconds(4))
        let slow = await probe.check()
        #expect(!slow.isSuccess, "\(slow)")
        faults.fault = .none
        #expect(await probe.check().isSuccess)
        await group.triggerGracefulShutdown()
        try await running.value
        let refused = await probe.check()
        #expect(!refused.isSuccess)
    }
}
