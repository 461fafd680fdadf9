import ZonalCore

/// What the health checker currently believes about an instance.
public enum HealthStatus: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Not enough results yet to say (at start, before `rise` or `fall` results in a row).
    case unknown
    case healthy
    case unhealthy

    public var description: String { rawValue }
}

/// The result of one probe.
public enum ProbeOutcome: Sendable, Hashable, CustomStringConvertible {
    case success(detail: String)
    case failure(reason: String)

    public var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .success(let detail): "ok (\(detail))"
        case .failure(let reason): "failed (\(reason))"
        }
    }
}

/// A change of health, with the evidence that caused it; logged, shown in events and asserted on.
public struct HealthTransition: Sendable, Hashable, CustomStringConvertible {
    public var from: HealthStatus
    public var to: HealthStatus
    public var at: MonotonicInstant
    /// Why, in words: "2 consecutive failures, last: connection refused".
    public var reason: String

    public init(from: HealthStatus, to: HealthStatus, at: MonotonicInstant, reason: String) {
        self.from = from
        self.to = to
        self.at = at
        self.reason = reason
    }

    public var description: String {
        "\(from) -> \(to) at \(at): \(reason)"
    }
}
