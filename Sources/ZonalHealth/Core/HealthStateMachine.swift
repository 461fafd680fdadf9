import ZonalCore

/// Decides an instance's health from a stream of probe results and the passing of time.
///
/// Pure: the shell feeds it the time and results and performs the actions it returns, so the
/// rules are tested with a virtual clock. The rules, as in HAProxy:
/// - one probe at a time; the next starts `interval` after the previous one started, or at once
///   when the previous one took longer than that;
/// - a probe unanswered after `timeout` counts as a failure and is abandoned; its late answer,
///   if any, is ignored;
/// - `rise` successes in a row make the instance healthy, `fall` failures in a row unhealthy;
///   anything less (a flapping instance) leaves the status as it was.
public struct HealthStateMachine: Sendable {
    /// Identifies one probe, so that a late answer to an abandoned probe can be recognised.
    public typealias ProbeID = UInt64

    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Start probe `id` now.
        case startProbe(ProbeID)
        /// Stop waiting for probe `id`: it timed out and its result no longer counts.
        case abandonProbe(ProbeID)
        /// The instance's health changed.
        case transition(HealthTransition)

        public var description: String {
            switch self {
            case .startProbe(let id): "start probe #\(id)"
            case .abandonProbe(let id): "abandon probe #\(id): timed out"
            case .transition(let transition): "health \(transition)"
            }
        }
    }

    private struct InFlightProbe: Sendable {
        var id: ProbeID
        var deadline: MonotonicInstant
    }

    public let spec: HealthCheckSpec
    public private(set) var status: HealthStatus = .unknown
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0
    /// The latest result, for status displays.
    public private(set) var lastOutcome: ProbeOutcome?
    private var inFlight: InFlightProbe?
    private var nextStart: MonotonicInstant
    private var lastProbeID: ProbeID = 0

    /// A machine whose first probe is due at `start`.
    public init(spec: HealthCheckSpec, start: MonotonicInstant) {
        self.spec = spec
        self.nextStart = start
    }

    /// When the shell must call ``tick(now:)`` next, at the latest.
    public var nextWakeup: MonotonicInstant {
        inFlight?.deadline ?? nextStart
    }

    /// Whether a probe is running.
    public var isProbing: Bool { inFlight != nil }

    /// Advances time: times out an overdue probe and starts the next one when it is due.
    public mutating func tick(now: MonotonicInstant) -> [Action] {
        var actions: [Action] = []
        if let probe = inFlight, now >= probe.deadline {
            inFlight = nil
            actions.append(.abandonProbe(probe.id))
            actions += record(.failure(reason: "no answer within \(spec.timeout.zonalDescription)"), now: now)
        }
        if inFlight == nil, now >= nextStart {
            lastProbeID += 1
            inFlight = InFlightProbe(id: lastProbeID, deadline: now + spec.timeout)
            nextStart = now + spec.interval
            actions.append(.startProbe(lastProbeID))
        }
        return actions
    }

    /// Takes the result of probe `id`; results of abandoned or unknown probes are ignored.
    public mutating func probeFinished(_ id: ProbeID, outcome: ProbeOutcome, now: MonotonicInstant) -> [Action] {
        guard let probe = inFlight, probe.id == id else { return [] }
        if now >= probe.deadline {
            // The answer came, but too late: it is a timeout, whatever it says.
            return tick(now: now)
        }
        inFlight = nil
        return record(outcome, now: now) + tick(now: now)
    }

    private mutating func record(_ outcome: ProbeOutcome, now: MonotonicInstant) -> [Action] {
        lastOutcome = outcome
        switch outcome {
        case .success:
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            guard status != .healthy, consecutiveSuccesses >= spec.rise else { return [] }
            return [change(to: .healthy, at: now, reason: "\(Self.count(consecutiveSuccesses, "success", "successes")) in a row")]
        case .failure(let reason):
            consecutiveFailures += 1
            consecutiveSuccesses = 0
            guard status != .unhealthy, consecutiveFailures >= spec.fall else { return [] }
            return [change(to: .unhealthy, at: now, reason: "\(Self.count(consecutiveFailures, "failure", "failures")) in a row, last: \(reason)")]
        }
    }

    private mutating func change(to newStatus: HealthStatus, at now: MonotonicInstant, reason: String) -> Action {
        let transition = HealthTransition(from: status, to: newStatus, at: now, reason: reason)
        status = newStatus
        return .transition(transition)
    }

    private static func count(_ n: Int, _ singular: String, _ plural: String) -> String {
        "\(n) \(n == 1 ? singular : plural)"
    }
}
