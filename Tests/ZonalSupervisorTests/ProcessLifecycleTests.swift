import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalSupervisor

@Suite("Process lifecycle decisions")
struct ProcessLifecycleTests {
    static let settings = RestartSpec(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1), stableAfter: .seconds(10))
    let t0 = MonotonicInstant.zero

    @Test("a crash loop backs off exponentially up to the cap")
    func backoff() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        #expect(lifecycle.start(now: t0) == .spawn(reason: "initial start"))
        var now = t0
        var delays: [Duration] = []
        for _ in 0..<6 {
            now = now + .milliseconds(10)
            _ = lifecycle.exited(cause: "exited with status 1", now: now)
            let restartAt = try! #require(lifecycle.nextWakeup)
            delays.append(restartAt - now)
            #expect(lifecycle.tick(now: restartAt - .milliseconds(1)) == .none(reason: "restart due in 1ms"))
            guard case .spawn = lifecycle.tick(now: restartAt) else {
                Issue.record("no restart at \(restartAt)")
                return
            }
            now = restartAt
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(lifecycle.restarts == 6)
    }

    @Test("a process that ran stably restarts after the initial delay again")
    func stableResetsBackoff() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        _ = lifecycle.start(now: t0)
        _ = lifecycle.exited(cause: "crash", now: t0)
        _ = lifecycle.tick(now: t0 + .milliseconds(100))
        _ = lifecycle.exited(cause: "crash", now: t0 + .milliseconds(150))
        #expect(lifecycle.nextWakeup == t0 + .milliseconds(350))
        _ = lifecycle.tick(now: t0 + .milliseconds(350))
        let action = lifecycle.exited(cause: "crash", now: t0 + .seconds(20))
        #expect(lifecycle.nextWakeup == t0 + .seconds(20) + .milliseconds(100))
        #expect(action.description == "no action: crash; restarting in 100ms (crash 1 in a row)")
    }

    @Test("an operator failure kills, and the exit that follows is not restarted")
    func operatorFailure() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        _ = lifecycle.start(now: t0)
        #expect(lifecycle.failByOperator() == .kill(reason: "failed by operator"))
        #expect(lifecycle.exited(cause: "killed by signal 9", now: t0 + .seconds(1)) == .none(reason: "killed by signal 9; failed by operator, not restarting"))
        #expect(lifecycle.nextWakeup == nil)
        #expect(lifecycle.tick(now: t0 + .seconds(60)) == .none(reason: "nothing pending"))
        #expect(lifecycle.recover(now: t0 + .seconds(61)) == .spawn(reason: "recovered by operator"))
    }

    @Test("recover before the killed process is reaped waits for the exit, never running two")
    func recoverBeforeReap() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        _ = lifecycle.start(now: t0)
        _ = lifecycle.failByOperator()
        #expect(lifecycle.recover(now: t0) == .none(reason: "recovering once the killed process is reaped"))
        #expect(lifecycle.exited(cause: "killed", now: t0 + .milliseconds(5)) == .spawn(reason: "recovered by operator"))
    }

    @Test("a crashed process waiting for its restart can be failed, and then is not restarted")
    func failDuringBackoff() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        _ = lifecycle.start(now: t0)
        _ = lifecycle.exited(cause: "crash", now: t0)
        #expect(lifecycle.failByOperator() == .none(reason: "failed by operator; no process running"))
        #expect(lifecycle.tick(now: t0 + .seconds(5)) == .none(reason: "nothing pending"))
    }

    @Test("shutdown terminates a running process and never restarts")
    func shutdown() {
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        _ = lifecycle.start(now: t0)
        #expect(lifecycle.shutdown() == .terminate(reason: "shutting down"))
        #expect(lifecycle.exited(cause: "exited with status 0", now: t0 + .seconds(1)) == .none(reason: "exited with status 0; stopped"))
        #expect(lifecycle.state == .stopped)
        #expect(lifecycle.recover(now: t0 + .seconds(2)) == .none(reason: "not failed by operator (stopped)"))
    }

    @Test("seeded random schedules: never two processes at once, no spawn while failed or after shutdown", arguments: 0..<300)
    func randomSchedules(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var lifecycle = ProcessLifecycle(settings: Self.settings)
        var now = MonotonicInstant.zero
        var alive = false
        var failed = false
        var shutDown = false

        func apply(_ action: ProcessLifecycle.Action, _ context: String) {
            switch action {
            case .spawn:
                #expect(!alive, "seed \(seed): spawned while a process runs (\(context))")
                #expect(!shutDown, "seed \(seed): spawned after shutdown (\(context))")
                alive = true
                failed = false
            case .kill, .terminate:
                #expect(alive, "seed \(seed): signalled with no process (\(context))")
            case .none:
                break
            }
        }

        apply(lifecycle.start(now: now), "start")
        for step in 0..<200 {
            now = now + .milliseconds(Int64.random(in: 0...700, using: &random))
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<35 where alive:
                alive = false
                apply(lifecycle.exited(cause: "crash", now: now), "exit at step \(step)")
            case 35..<45:
                let action = lifecycle.failByOperator()
                if !shutDown { failed = true }
                apply(action, "fail at step \(step)")
            case 45..<60:
                let wasFailed = failed
                let action = lifecycle.recover(now: now)
                if case .spawn = action { #expect(wasFailed, "seed \(seed): recover spawned what was not failed") }
                apply(action, "recover at step \(step)")
            case 60..<62:
                shutDown = true
                apply(lifecycle.shutdown(), "shutdown at step \(step)")
            default:
                let action = lifecycle.tick(now: now)
                if case .spawn = action { #expect(!failed, "seed \(seed): restarted while failed by operator") }
                apply(action, "tick at step \(step)")
            }
            #expect(lifecycle.processAlive == alive, "seed \(seed) step \(step)")
        }
    }
}
