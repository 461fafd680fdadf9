import Logging
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalHealth

/// A probe whose answers and latencies a test scripts; its latency passes on the virtual clock.
final class ScriptedProbe: HealthProbe {
    enum Step: Sendable {
        case answer(ProbeOutcome, after: Duration)
        /// Never answers until cancelled.
        case hang
    }

    private let steps: Mutex<[Step]>
    private let fallback: Step
    private let clock: VirtualClock
    let calls = Mutex(0)
    let cancellations = Mutex(0)

    init(clock: VirtualClock, steps: [Step], then fallback: Step) {
        self.clock = clock
        self.steps = Mutex(steps)
        self.fallback = fallback
    }

    func check() async -> ProbeOutcome {
        calls.withLock { $0 += 1 }
        let step = steps.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
        switch step {
        case .answer(let outcome, let latency):
            do {
                try await clock.sleep(for: latency)
            } catch {
                cancellations.withLock { $0 += 1 }
                return .failure(reason: "cancelled")
            }
            return outcome
        case .hang:
            _ = try? await clock.sleep(until: MonotonicInstant(nanoseconds: .max))
            cancellations.withLock { $0 += 1 }
            return .failure(reason: "cancelled")
        }
    }
}

/// Collects transitions reported by a monitor.
final class TransitionLog: Sendable {
    private let entries = Mutex<[HealthTransition]>([])
    var all: [HealthTransition] { entries.withLock { $0 } }
    func append(_ transition: HealthTransition) { entries.withLock { $0.append(transition) } }
}

@Suite("Health monitor on a virtual clock")
struct HealthMonitorTests {
    let spec = HealthCheckSpec(probe: .tcp(port: nil), interval: .seconds(1), timeout: .milliseconds(500), rise: 2, fall: 2)

    func monitor(_ probe: ScriptedProbe, clock: VirtualClock) -> HealthMonitor {
        HealthMonitor(name: "test", spec: spec, probe: probe, clock: clock, logger: Logger(label: "test"))
    }

    @Test("healthy after two quick answers, unhealthy two intervals after the answers stop")
    func upThenDown() async {
        let clock = VirtualClock()
        let ok = ScriptedProbe.Step.answer(.success(detail: "ok"), after: .milliseconds(20))
        let probe = ScriptedProbe(clock: clock, steps: [ok, ok, ok], then: .answer(.failure(reason: "refused"), after: .milliseconds(1)))
        let log = TransitionLog()
        let task = Task { await monitor(probe, clock: clock).run { transition, _ in log.append(transition) } }
        #expect(await clock.run { log.all.count >= 2 })
        task.cancel()
        let transitions = log.all
        #expect(transitions.map(\.to) == [.healthy, .unhealthy])
        // Second answer at 1 s + 20 ms; failures at 3 s + 1 ms and 4 s + 1 ms.
        #expect(transitions[0].at == .zero + .milliseconds(1020))
        #expect(transitions[1].at == .zero + .milliseconds(4001))
        #expect(transitions[1].reason == "2 failures in a row, last: refused")
    }

    @Test("a probe that hangs is cancelled at its timeout and the instance goes unhealthy")
    func hangingProbe() async {
        let clock = VirtualClock()
        let ok = ScriptedProbe.Step.answer(.success(detail: "ok"), after: .milliseconds(10))
        let probe = ScriptedProbe(clock: clock, steps: [ok, ok], then: .hang)
        let log = TransitionLog()
        let task = Task { await monitor(probe, clock: clock).run { transition, _ in log.append(transition) } }
        #expect(await clock.run { log.all.count >= 2 })
        task.cancel()
        #expect(log.all.map(\.to) == [.healthy, .unhealthy])
        // Hung probes start at 2 s and 3 s and each is given up 500 ms later.
        #expect(log.all[1].at == .zero + .milliseconds(3500))
        #expect(log.all[1].reason.contains("no answer within 500ms"))
        #expect(await poll(timeout: .seconds(5)) { probe.cancellations.withLock { $0 } >= 2 } != nil)
    }

    @Test("cancelling the monitor cancels its running probe")
    func cancellation() async {
        let clock = VirtualClock()
        let probe = ScriptedProbe(clock: clock, steps: [], then: .hang)
        let task = Task { await monitor(probe, clock: clock).run { _, _ in } }
        #expect(await poll(timeout: .seconds(5)) { probe.calls.withLock { $0 } == 1 } != nil)
        task.cancel()
        await task.value
        #expect(await poll(timeout: .seconds(5)) { probe.cancellations.withLock { $0 } == 1 } != nil)
    }
}
