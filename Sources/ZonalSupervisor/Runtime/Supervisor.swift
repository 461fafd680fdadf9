import Foundation
import Logging
import Metrics
import ZonalCoordination
import ZonalCore
import ZonalHealth
import ZonalProcess

/// Makes a topology real on one machine: runs every instance as a child process in its own
/// process group, restarts crashed ones with backoff, probes their health, and fails or
/// recovers whole zones and nodes on an operator's command.
///
/// Decisions come from one ``ProcessLifecycle`` per instance; this actor only performs them.
public actor Supervisor {
    public enum Scope: String, Sendable, CaseIterable {
        case region, zone, node

        /// The names this scope can take in `topology`.
        func names(in topology: Topology) -> [String] {
            switch self {
            case .region: topology.regions.map(\.name)
            case .zone: topology.zoneNames
            case .node: topology.nodes.map(\.name)
            }
        }

        /// Whether `instance` lies in the region, zone or node called `name`.
        func contains(_ instance: Topology.Instance, named name: String) -> Bool {
            switch self {
            case .region: instance.region == name
            case .zone: instance.node.zone == name
            case .node: instance.node.name == name
            }
        }

        var failed: SupervisorEvent.Kind {
            switch self {
            case .region: .regionFailed
            case .zone: .zoneFailed
            case .node: .nodeFailed
            }
        }

        var recovered: SupervisorEvent.Kind {
            switch self {
            case .region: .regionRecovered
            case .zone: .zoneRecovered
            case .node: .nodeRecovered
            }
        }
    }

    private struct Managed {
        let instance: Topology.Instance
        var lifecycle: ProcessLifecycle
        var process: ChildProcess?
        /// Counts launches, so that a late exit of an old process is not taken for the current one.
        var generation = 0
        var health: HealthStatus = .unknown
        var healthDetail: String?
        var healthSince: Date?
        var wakeup: Task<Void, Never>?
    }

    public nonisolated let topology: Topology
    public nonisolated let events: EventLog
    /// The topology's coordinator, asked for its health by ``status()``.
    private let coordinator: (any Coordinator)?
    private let launcher: InstanceLauncher
    private let clock: any ZonalClock
    private let logger: Logger
    private let startedAt = Date()
    private var order: [String] = []
    private var managed: [String: Managed] = [:]
    private var monitors: [Task<Void, Never>] = []
    private var watchers: [Task<Void, Never>] = []

    public init(
        topology: Topology, launcher: InstanceLauncher, events: EventLog, coordinator: (any Coordinator)? = nil,
        clock: any ZonalClock = SystemClock(), logger: Logger
    ) {
        self.topology = topology
        self.coordinator = coordinator
        self.launcher = launcher
        self.events = events
        self.clock = clock
        self.logger = logger
        for instance in topology.instances {
            order.append(instance.id)
            managed[instance.id] = Managed(instance: instance, lifecycle: ProcessLifecycle(settings: topology.supervisor.restart))
        }
    }

    /// Starts every instance and its health checks.
    public func start() async {
        events.record(SupervisorEvent(kind: .started, subject: topology.name, message: "starting \(order.count) instance(s)"))
        for id in order {
            guard var entry = managed[id] else { continue }
            let action = entry.lifecycle.start(now: clock.now)
            managed[id] = entry
            await perform(action, for: id)
            startMonitor(for: entry.instance)
        }
    }

    // MARK: Operator commands

    /// Kills every process of a region, zone or node with SIGKILL and keeps them down.
    public func fail(_ scope: Scope, named name: String) async throws(SupervisorError) -> OperatorActionResult {
        try await operate(scope, name: name, verb: "fail", kind: scope.failed) { lifecycle, _ in
            lifecycle.failByOperator()
        }
    }

    /// Starts again what `fail` stopped.
    public func recover(_ scope: Scope, named name: String) async throws(SupervisorError) -> OperatorActionResult {
        let now = clock.now
        return try await operate(scope, name: name, verb: "recover", kind: scope.recovered) { lifecycle, _ in
            lifecycle.recover(now: now)
        }
    }

    private func operate(
        _ scope: Scope, name: String, verb: String, kind: SupervisorEvent.Kind,
        decide: (inout ProcessLifecycle, Topology.Instance) -> ProcessLifecycle.Action
    ) async throws(SupervisorError) -> OperatorActionResult {
        let known = scope.names(in: topology)
        guard known.contains(name) else { throw .unknown(scope: scope.rawValue, name: name, known: known) }
        let ids = order.filter { id in
            guard let instance = managed[id]?.instance else { return false }
            return scope.contains(instance, named: name)
        }
        var outcome: [String: String] = [:]
        for id in ids {
            guard var entry = managed[id] else { continue }
            let pid = entry.process?.pid
            let action = decide(&entry.lifecycle, entry.instance)
            managed[id] = entry
            outcome[id] = action.description + (pid.map { " (pid \($0))" } ?? "")
            await perform(action, for: id)
        }
        let summary = ids.isEmpty ? "no instances" : ids.map { "\($0): \(outcome[$0] ?? "")" }.joined(separator: "; ")
        events.record(SupervisorEvent(kind: kind, subject: name, message: summary))
        Counter(label: "zonal_supervisor_operator_actions_total", dimensions: [("action", verb), ("scope", scope.rawValue)]).increment()
        return OperatorActionResult(action: verb, scope: scope.rawValue, name: name, instances: outcome)
    }

    // MARK: Status

    public func status() async -> StatusReport {
        let supervisor = topology.supervisor
        return StatusReport(
            topology: topology.name,
            coordinator: await coordinatorHealth(),
            control: "\(supervisor.controlHost):\(supervisor.controlPort)",
            startedAt: startedAt,
            instances: order.compactMap { managed[$0].map(Self.status(of:)) }
        )
    }

    private func coordinatorHealth() async -> CoordinatorHealth {
        let settings = topology.coordinator
        let endpoints = settings.clientEndpoints
        guard let coordinator else {
            return CoordinatorHealth(backend: settings.backend.rawValue, endpoints: endpoints, healthy: false, error: "not connected")
        }
        do {
            let status = try await coordinator.status()
            return CoordinatorHealth(backend: status.backend, endpoints: endpoints, healthy: true, leader: status.leader, revision: status.revision)
        } catch {
            return CoordinatorHealth(backend: settings.backend.rawValue, endpoints: endpoints, healthy: false, error: error.description)
        }
    }

    private static func status(of entry: Managed) -> InstanceStatus {
        let instance = entry.instance
        let role =
            switch instance.node.zone {
            case instance.service.primaryZone: "primary-zone"
            case instance.service.secondaryZone: "secondary-zone"
            default: "member"
            }
        return InstanceStatus(
            id: instance.id, service: instance.service.name, kind: instance.service.kind.name, region: instance.region,
            zone: instance.node.zone, node: instance.node.name, role: role, health: entry.health.rawValue,
            healthDetail: entry.healthDetail, healthSince: entry.healthSince, process: entry.lifecycle.state.description,
            pid: entry.process?.pid, restarts: entry.lifecycle.restarts, address: instance.endpoint,
            adminAddress: instance.service.adminPort.map { IPAddressText.hostPort(instance.node.address, $0) }
        )
    }

    /// Waits until every instance is healthy, or `timeout` passes; returns whether they all are.
    public func waitUntilAllHealthy(timeout: Duration) async -> Bool {
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if managed.values.allSatisfy({ $0.health == .healthy }) { return true }
            try? await clock.sleep(for: .milliseconds(100))
        }
        return managed.values.allSatisfy { $0.health == .healthy }
    }

    // MARK: Shutdown

    /// Stops everything: SIGTERM to every process group, SIGKILL to what is left after `grace`,
    /// and returns only when every child has been reaped.
    public func shutdown(grace: Duration = .seconds(5)) async {
        monitors.forEach { $0.cancel() }
        for id in order {
            guard var entry = managed[id] else { continue }
            entry.wakeup?.cancel()
            let action = entry.lifecycle.shutdown()
            managed[id] = entry
            await perform(action, for: id)
        }
        let children = managed.values.compactMap(\.process)
        let clock = self.clock
        let enforcer = Task {
            guard (try? await clock.sleep(for: grace)) != nil else { return }
            children.forEach { $0.signalGroup(SIGKILL) }
        }
        for child in children {
            _ = await child.termination.value
            child.signalGroup(SIGKILL)  // whatever the process left behind in its group
        }
        enforcer.cancel()
        for watcher in watchers { await watcher.value }
        events.record(SupervisorEvent(kind: .stopped, subject: topology.name, message: "stopped \(children.count) process(es)"))
    }

    // MARK: Performing decisions

    private func perform(_ action: ProcessLifecycle.Action, for id: String) async {
        guard let entry = managed[id] else { return }
        switch action {
        case .spawn(let reason):
            await launch(id, reason: reason)
        case .kill:
            entry.process?.signalGroup(SIGKILL)
        case .terminate:
            entry.process?.signalGroup(SIGTERM)
        case .none(let reason):
            logger.debug("no action", metadata: ["instance": "\(id)", "reason": "\(reason)"])
        }
        scheduleWakeup(for: id)
    }

    private func launch(_ id: String, reason: String) async {
        guard var entry = managed[id] else { return }
        entry.generation += 1
        let generation = entry.generation
        managed[id] = entry
        do {
            let child = try await ChildProcess.launch(try launcher.plan(for: entry.instance))
            managed[id]?.process = child
            events.record(SupervisorEvent(kind: .processStarted, subject: id, message: "pid \(child.pid): \(reason)"))
            watchers.append(
                Task { [weak self] in
                    let cause = await child.termination.value
                    await self?.processEnded(id, generation: generation, cause: cause)
                })
            if case .failedByOperator = managed[id]?.lifecycle.state {
                child.signalGroup(SIGKILL)  // failed while it was starting
            }
        } catch {
            await processEnded(id, generation: generation, cause: "\(error)")
        }
    }

    private func processEnded(_ id: String, generation: Int, cause: String) async {
        guard var entry = managed[id], entry.generation == generation else { return }
        entry.process?.signalGroup(SIGKILL)
        entry.process = nil
        let action = entry.lifecycle.exited(cause: cause, now: clock.now)
        managed[id] = entry
        events.record(SupervisorEvent(kind: .processExited, subject: id, message: action.description))
        if case .backingOff = entry.lifecycle.state {
            Counter(label: "zonal_supervisor_crashes_total", dimensions: [("instance", id)]).increment()
        }
        await perform(action, for: id)
    }

    private func scheduleWakeup(for id: String) {
        guard var entry = managed[id] else { return }
        entry.wakeup?.cancel()
        entry.wakeup = entry.lifecycle.nextWakeup.map { deadline in
            let clock = self.clock
            return Task { [weak self] in
                guard (try? await clock.sleep(until: deadline)) != nil else { return }
                await self?.tick(id)
            }
        }
        managed[id] = entry
    }

    private func tick(_ id: String) async {
        guard var entry = managed[id] else { return }
        let action = entry.lifecycle.tick(now: clock.now)
        managed[id] = entry
        await perform(action, for: id)
    }

    // MARK: Health

    private func startMonitor(for instance: Topology.Instance) {
        let spec = instance.service.health
        var logger = self.logger
        logger[metadataKey: "instance"] = "\(instance.id)"
        let monitor = HealthMonitor(name: instance.id, spec: spec, probe: spec.makeProbe(for: instance), clock: clock, logger: logger)
        let id = instance.id
        Gauge(label: "zonal_instance_healthy", dimensions: [("instance", id)]).record(0)
        monitors.append(
            Task {
                await monitor.run { transition, outcome in
                    await self.healthChanged(id, transition: transition, outcome: outcome)
                }
            })
    }

    private func healthChanged(_ id: String, transition: HealthTransition, outcome: ProbeOutcome?) {
        guard var entry = managed[id] else { return }
        entry.health = transition.to
        entry.healthDetail = outcome?.description
        entry.healthSince = Date()
        managed[id] = entry
        events.record(SupervisorEvent(kind: .healthChanged, subject: id, message: transition.description))
        Gauge(label: "zonal_instance_healthy", dimensions: [("instance", id)]).record(transition.to == .healthy ? 1 : 0)
        Counter(label: "zonal_health_transitions_total", dimensions: [("instance", id), ("to", transition.to.rawValue)]).increment()
    }
}

public enum SupervisorError: Error, CustomStringConvertible {
    case unknown(scope: String, name: String, known: [String])

    public var description: String {
        switch self {
        case .unknown(let scope, let name, let known):
            "no \(scope) named \(name) in this topology; known: \(known.joined(separator: ", "))"
        }
    }
}
