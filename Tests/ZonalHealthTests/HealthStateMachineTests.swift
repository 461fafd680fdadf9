import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalHealth

/// The health decision core, driven with virtual time only.
@Suite("Health state machine")
struct HealthStateMachineTests {
    static let spec = HealthCheckSpec(probe: .tcp(port: nil), interval: .seconds(1), timeout: .milliseconds(500), rise: 2, fall: 3)

    /// Drives a machine through probe results, one per interval, each answered after `latency`.
    struct Driver {
        var machine: HealthStateMachine
        var now = MonotonicInstant.zero
        var transitions: [HealthTransition] = []

        init(spec: HealthCheckSpec = HealthStateMachineTests.spec) {
            machine = HealthStateMachine(spec: spec, start: .zero)
        }

        /// Starts the due probe, answers it with `outcome` after `latency`, and moves to the next start.
        mutating func probe(_ outcome: ProbeOutcome, latency: Duration = .milliseconds(10)) {
            now = machine.nextWakeup
            let started = machine.tick(now: now)
            guard case .startProbe(let id)? = started.last else {
                Issue.record("no probe started at \(now): \(started)")
                return
            }
            now = now + latency
            collect(machine.probeFinished(id, outcome: outcome, now: now))
        }

        mutating func collect(_ actions: [HealthStateMachine.Action]) {
            for case .transition(let transition) in actions { transitions.append(transition) }
        }
    }

    @Test("starts unknown and becomes healthy after `rise` successes in a row")
    func rise() {
        var driver = Driver()
        #expect(driver.machine.status == .unknown)
        driver.probe(.success(detail: "ok"))
        #expect(driver.machine.status == .unknown)
        driver.probe(.success(detail: "ok"))
        #expect(driver.machine.status == .healthy)
        #expect(driver.transitions.map(\.to) == [.healthy])
        #expect(driver.transitions[0].reason == "2 successes in a row")
        #expect(driver.transitions[0].at == .zero + .seconds(1) + .milliseconds(10))
    }

    @Test("becomes unhealthy after `fall` failures in a row, naming the last cause")
    func fall() {
        var driver = Driver()
        driver.probe(.success(detail: "ok"))
        driver.probe(.success(detail: "ok"))
        driver.probe(.failure(reason: "connection refused"))
        driver.probe(.failure(reason: "connection refused"))
        #expect(driver.machine.status == .healthy)
        driver.probe(.failure(reason: "connection reset"))
        #expect(driver.machine.status == .unhealthy)
        #expect(driver.transitions.last?.reason == "3 failures in a row, last: connection reset")
    }

    @Test("a flapping instance keeps its status: no run reaches rise or fall")
    func flapping() {
        var driver = Driver()
        driver.probe(.success(detail: "ok"))
        driver.probe(.success(detail: "ok"))
        for round in 0..<50 {
            driver.probe(round.isMultiple(of: 2) ? .failure(reason: "503") : .success(detail: "ok"))
            driver.probe(.failure(reason: "503"))
            driver.probe(.success(detail: "ok"))
        }
        #expect(driver.transitions.map(\.to) == [.healthy])
    }

    @Test("probes start one interval apart and never overlap")
    func schedule() {
        var machine = HealthStateMachine(spec: Self.spec, start: .zero)
        #expect(machine.tick(now: .zero) == [.startProbe(1)])
        #expect(machine.tick(now: .zero + .milliseconds(100)) == [])
        _ = machine.probeFinished(1, outcome: .success(detail: "ok"), now: .zero + .milliseconds(100))
        #expect(machine.nextWakeup == .zero + .seconds(1))
        #expect(machine.tick(now: .zero + .milliseconds(999)) == [])
        #expect(machine.tick(now: .zero + .seconds(1)) == [.startProbe(2)])
    }

    @Test("a hung probe times out: counted as a failure, abandoned, and its late answer ignored")
    func hungProbe() {
        var machine = HealthStateMachine(
            spec: HealthCheckSpec(probe: .tcp(port: nil), interval: .seconds(1), timeout: .milliseconds(500), rise: 1, fall: 1), start: .zero)
        _ = machine.tick(now: .zero)
        #expect(machine.nextWakeup == .zero + .milliseconds(500))
        let actions = machine.tick(now: .zero + .milliseconds(500))
        #expect(actions.count == 2)
        #expect(actions[0] == .abandonProbe(1))
        guard case .transition(let transition) = actions[1] else {
            Issue.record("expected a transition, got \(actions)")
            return
        }
        #expect(transition.to == .unhealthy)
        #expect(transition.reason == "1 failure in a row, last: no answer within 500ms")
        // The abandoned probe answers at last: it must not count.
        #expect(machine.probeFinished(1, outcome: .success(detail: "late"), now: .zero + .milliseconds(700)) == [])
        #expect(machine.status == .unhealthy)
        #expect(machine.tick(now: .zero + .seconds(1)) == [.startProbe(2)])
    }

    @Test("timeout longer than the interval: the next probe waits for the current one")
    func timeoutLongerThanInterval() {
        let spec = HealthCheckSpec(probe: .tcp(port: nil), interval: .seconds(1), timeout: .seconds(3), rise: 1, fall: 2)
        var machine = HealthStateMachine(spec: spec, start: .zero)
        #expect(machine.tick(now: .zero) == [.startProbe(1)])
        // Past the interval, the first probe still runs: no second one.
        #expect(machine.tick(now: .zero + .seconds(2)) == [])
        #expect(machine.nextWakeup == .zero + .seconds(3))
        // It answers late for the interval but within its timeout; the next starts at once.
        let actions = machine.probeFinished(1, outcome: .success(detail: "slow"), now: .zero + .milliseconds(2500))
        #expect(actions.contains(.startProbe(2)))
        #expect(machine.status == .healthy)
        // Two timeouts in a row make it unhealthy, 3 s each.
        _ = machine.tick(now: .zero + .milliseconds(5500))
        #expect(machine.status == .healthy)
        _ = machine.tick(now: .zero + .milliseconds(8500))
        #expect(machine.status == .unhealthy)
    }

    @Test("an answer arriving exactly at the deadline counts as a timeout")
    func answerAtDeadline() {
        var machine = HealthStateMachine(
            spec: HealthCheckSpec(probe: .tcp(port: nil), interval: .seconds(1), timeout: .milliseconds(500), rise: 1, fall: 1), start: .zero)
        _ = machine.tick(now: .zero)
        let actions = machine.probeFinished(1, outcome: .success(detail: "ok"), now: .zero + .milliseconds(500))
        #expect(actions.first == .abandonProbe(1))
        #expect(machine.status == .unhealthy)
    }

    @Test("seeded random schedules: status follows the rise/fall rule and probes never overlap", arguments: 0..<200)
    func randomSchedules(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let rise = Int.random(in: 1...4, using: &random)
        let fall = Int.random(in: 1...4, using: &random)
        let spec = HealthCheckSpec(
            probe: .tcp(port: nil), interval: .milliseconds(Int64.random(in: 100...2000, using: &random)),
            timeout: .milliseconds(Int64.random(in: 50...3000, using: &random)), rise: rise, fall: fall)
        var machine = HealthStateMachine(spec: spec, start: .zero)
        var now = MonotonicInstant.zero
        var inFlight: HealthStateMachine.ProbeID?
        var history: [Bool] = []  // outcomes that counted, true = success
        var expected: HealthStatus = .unknown

        func apply(_ actions: [HealthStateMachine.Action]) {
            for action in actions {
                switch action {
                case .startProbe(let id):
                    #expect(inFlight == nil, "seed \(seed): probe \(id) started while \(String(describing: inFlight)) runs")
                    inFlight = id
                case .abandonProbe(let id):
                    #expect(inFlight == id, "seed \(seed)")
                    inFlight = nil
                    history.append(false)
                case .transition(let transition):
                    #expect(transition.from == expected, "seed \(seed)")
                    expected = transition.to
                }
            }
        }

        for _ in 0..<300 {
            now = now + .milliseconds(Int64.random(in: 0...1500, using: &random))
            if let id = inFlight, random.chance(0.7) {
                let success = random.chance(0.6)
                let countsAsResult = now < machine.nextWakeup
                let actions = machine.probeFinished(id, outcome: success ? .success(detail: "") : .failure(reason: "x"), now: now)
                if countsAsResult {
                    history.append(success)
                    inFlight = nil
                }
                apply(actions)
            } else {
                apply(machine.tick(now: now))
            }
            // The rule: the status is what the latest run of rise successes or fall failures says.
            var rebuilt: HealthStatus = .unknown
            var successes = 0
            var failures = 0
            for success in history {
                if success {
                    successes += 1
                    failures = 0
                } else {
                    failures += 1
                    successes = 0
                }
                if successes >= rise { rebuilt = .healthy }
                if failures >= fall { rebuilt = .unhealthy }
            }
            #expect(machine.status == rebuilt, "seed \(seed): status \(machine.status), history says \(rebuilt)")
            #expect(machine.status == expected, "seed \(seed)")
        }
    }
}
