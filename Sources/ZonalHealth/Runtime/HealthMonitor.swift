import Logging
import ZonalCore

/// Runs a ``HealthStateMachine`` against a real probe: starts probes when the machine says so,
/// cancels the ones it abandons, and reports every health change.
///
/// The clock is injected, so the same shell runs on a virtual clock in tests.
public struct HealthMonitor: Sendable {
    public typealias TransitionHandler = @Sendable (HealthTransition, ProbeOutcome?) async -> Void

    public var name: String
    public var spec: HealthCheckSpec
    public var probe: any HealthProbe
    public var clock: any ZonalClock
    public var logger: Logger

    public init(name: String, spec: HealthCheckSpec, probe: any HealthProbe, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.name = name
        self.spec = spec
        self.probe = probe
        self.clock = clock
        self.logger = logger
    }

    private enum Event: Sendable {
        case tick
        case finished(HealthStateMachine.ProbeID, ProbeOutcome)
    }

    /// Probes until the calling task is cancelled, calling `onTransition` on each health change.
    public func run(onTransition: TransitionHandler) async {
        var machine = HealthStateMachine(spec: spec, start: clock.now)
        let (events, sink) = AsyncStream<Event>.makeStream()
        var probes: [HealthStateMachine.ProbeID: Task<Void, Never>] = [:]
        var timer: Task<Void, Never>?
        defer {
            timer?.cancel()
            probes.values.forEach { $0.cancel() }
            sink.finish()
        }
        await withTaskCancellationHandler {
            sink.yield(.tick)
            for await event in events {
                let now = clock.now
                let actions: [HealthStateMachine.Action]
                switch event {
                case .tick: actions = machine.tick(now: now)
                case .finished(let id, let outcome):
                    probes[id] = nil
                    actions = machine.probeFinished(id, outcome: outcome, now: now)
                }
                for action in actions {
                    switch action {
                    case .startProbe(let id):
                        let probe = self.probe
                        probes[id] = Task { sink.yield(.finished(id, await probe.check())) }
                    case .abandonProbe(let id):
                        probes.removeValue(forKey: id)?.cancel()
                        logger.debug("health probe abandoned", metadata: ["check": "\(name)", "probe": "\(id)"])
                    case .transition(let transition):
                        logger.info(
                            "health changed",
                            metadata: [
                                "check": "\(name)", "from": "\(transition.from)", "to": "\(transition.to)", "reason": "\(transition.reason)",
                            ])
                        await onTransition(transition, machine.lastOutcome)
                    }
                }
                timer?.cancel()
                let wakeup = machine.nextWakeup
                let clock = self.clock
                timer = Task {
                    guard (try? await clock.sleep(until: wakeup)) != nil else { return }
                    sink.yield(.tick)
                }
            }
        } onCancel: {
            sink.finish()
        }
    }
}
