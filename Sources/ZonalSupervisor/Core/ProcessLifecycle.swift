import ZonalCore

/// Decides when one supervised process is started, restarted after a crash, killed by an
/// operator or stopped at shutdown.
///
/// Pure: exits, operator commands and the time go in, actions come out; the supervisor performs
/// them. Crash loops back off exponentially (`initialBackoff`, doubling, capped at `maxBackoff`),
/// and a process that ran for `stableAfter` starts again from the initial delay.
public struct ProcessLifecycle: Sendable {
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Not started yet.
        case idle
        case running(since: MonotonicInstant)
        /// Crashed; restarts at `until`.
        case backingOff(until: MonotonicInstant)
        /// Killed by an operator (`zonal fail`); stays down until `zonal recover`.
        case failedByOperator
        /// Being stopped for shutdown, or stopped.
        case stopping
        case stopped

        public var description: String {
            switch self {
            case .idle: "idle"
            case .running: "running"
            case .backingOff: "restarting"
            case .failedByOperator: "failed"
            case .stopping: "stopping"
            case .stopped: "stopped"
            }
        }
    }

    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Start the process.
        case spawn(reason: String)
        /// Kill the process group with SIGKILL.
        case kill(reason: String)
        /// Ask the process group to stop with SIGTERM.
        case terminate(reason: String)
        /// Nothing to do, and why (for logs and tests).
        case none(reason: String)

        public var description: String {
            switch self {
            case .spawn(let reason): "spawn: \(reason)"
            case .kill(let reason): "kill -9: \(reason)"
            case .terminate(let reason): "terminate: \(reason)"
            case .none(let reason): "no action: \(reason)"
            }
        }
    }

    public let settings: RestartSpec
    public private(set) var state: State = .idle
    /// Crashes since the process last ran stably.
    public private(set) var crashesInARow = 0
    /// Restarts after crashes over the process's whole life.
    public private(set) var restarts = 0
    /// Whether a process is (or may still be) alive and owes us an exit notification.
    public private(set) var processAlive = false
    /// An operator asked to recover before the killed process was reaped.
    private var recoverPending = false

    public init(settings: RestartSpec) {
        self.settings = settings
    }

    /// When ``tick(now:)`` must be called next, if a restart is pending.
    public var nextWakeup: MonotonicInstant? {
        if case .backingOff(let until) = state { return until }
        return nil
    }

    public mutating func start(now: MonotonicInstant) -> Action {
        guard state == .idle else { return .none(reason: "already started (\(state))") }
        return spawn(now: now, reason: "initial start")
    }

    /// The process ended (or could not be started): `cause` says how.
    public mutating func exited(cause: String, now: MonotonicInstant) -> Action {
        processAlive = false
        switch state {
        case .running(let since):
            if now - since >= settings.stableAfter { crashesInARow = 0 }
            crashesInARow += 1
            let delay = backoff(forCrash: crashesInARow)
            state = .backingOff(until: now + delay)
            return .none(reason: "\(cause); restarting in \(delay.zonalDescription) (crash \(crashesInARow) in a row)")
        case .failedByOperator where recoverPending:
            recoverPending = false
            crashesInARow = 0
            return spawn(now: now, reason: "recovered by operator")
        case .failedByOperator:
            return .none(reason: "\(cause); failed by operator, not restarting")
        case .stopping, .stopped:
            state = .stopped
            return .none(reason: "\(cause); stopped")
        case .idle, .backingOff:
            return .none(reason: "\(cause); no process was expected to run")
        }
    }

    public mutating func tick(now: MonotonicInstant) -> Action {
        guard case .backingOff(let until) = state else { return .none(reason: "nothing pending") }
        guard now >= until else { return .none(reason: "restart due in \((until - now).zonalDescription)") }
        restarts += 1
        return spawn(now: now, reason: "restart \(restarts) after \(crashesInARow) crash\(crashesInARow == 1 ? "" : "es") in a row")
    }

    /// `zonal fail`: kill at once and keep down.
    public mutating func failByOperator() -> Action {
        switch state {
        case .failedByOperator: return .none(reason: "already failed by operator")
        case .stopping, .stopped: return .none(reason: "shutting down")
        case .idle, .running, .backingOff:
            state = .failedByOperator
            recoverPending = false
            return processAlive ? .kill(reason: "failed by operator") : .none(reason: "failed by operator; no process running")
        }
    }

    /// `zonal recover`: start again after an operator failure.
    public mutating func recover(now: MonotonicInstant) -> Action {
        guard state == .failedByOperator else { return .none(reason: "not failed by operator (\(state))") }
        guard !processAlive else {
            // The killed process has not been reaped yet and must never run twice: start on its exit.
            recoverPending = true
            return .none(reason: "recovering once the killed process is reaped")
        }
        crashesInARow = 0
        return spawn(now: now, reason: "recovered by operator")
    }

    /// Shutdown: stop the process if one runs and never restart.
    public mutating func shutdown() -> Action {
        switch state {
        case .stopping, .stopped: return .none(reason: "already stopping")
        default:
            recoverPending = false
            state = processAlive ? .stopping : .stopped
            return processAlive ? .terminate(reason: "shutting down") : .none(reason: "shutting down; no process running")
        }
    }

    private mutating func spawn(now: MonotonicInstant, reason: String) -> Action {
        state = .running(since: now)
        processAlive = true
        return .spawn(reason: reason)
    }

    private func backoff(forCrash crash: Int) -> Duration {
        settings.backoff.delay(afterFailures: crash, random: 0)
    }
}
