import ZonalCore

/// Which zone of a pool takes traffic: the primary zone while it has any healthy server; the
/// secondary zone only when the primary has none at all (one failed server is not a failover);
/// back to the primary once it has been healthy for the hold-down period, so a flapping zone
/// does not pull traffic back and forth.
///
/// Pure: health counts and the time go in, a switch (with its cause, for the event log) comes out.
public struct ZoneFailoverPolicy: Sendable {
    public struct Settings: Sendable, Hashable {
        /// How long the primary zone must stay healthy before traffic fails back. Default 5 s.
        public var failbackHoldDown: Duration = .seconds(5)

        public init(failbackHoldDown: Duration = .seconds(5)) {
            self.failbackHoldDown = failbackHoldDown
        }
    }

    public enum Active: String, Sendable, Hashable {
        case primary, secondary
        /// Neither zone has a healthy server: requests get 503.
        case none
    }

    /// A change of serving zone, logged as an event.
    public struct Switch: Sendable, Hashable, CustomStringConvertible {
        public var from: Active
        public var to: Active
        public var at: MonotonicInstant
        public var cause: String

        public var description: String { "\(from) -> \(to) at \(at): \(cause)" }
    }

    public let primaryZone: String
    public let secondaryZone: String?
    public let settings: Settings
    public private(set) var active: Active = .none
    /// Since when the primary zone has had a healthy server, while traffic is elsewhere.
    private var primaryHealthySince: MonotonicInstant?

    public init(primaryZone: String, secondaryZone: String?, settings: Settings = .init()) {
        self.primaryZone = primaryZone
        self.secondaryZone = secondaryZone
        self.settings = settings
    }

    /// The zone that serves now, if any.
    public var servingZone: String? {
        switch active {
        case .primary: primaryZone
        case .secondary: secondaryZone
        case .none: nil
        }
    }

    /// When ``update(healthyInPrimary:healthyInSecondary:now:)`` must run again for a pending
    /// failback, if one is pending.
    public var nextDecision: MonotonicInstant? {
        guard active != .primary, let since = primaryHealthySince else { return nil }
        return since + settings.failbackHoldDown
    }

    /// Takes the current number of healthy servers in each zone; returns the switch, if any.
    public mutating func update(healthyInPrimary: Int, healthyInSecondary: Int, now: MonotonicInstant) -> Switch? {
        let secondaryUp = secondaryZone != nil && healthyInSecondary > 0
        if healthyInPrimary > 0 {
            if primaryHealthySince == nil { primaryHealthySince = now }
        } else {
            primaryHealthySince = nil
        }
        switch active {
        case .primary where healthyInPrimary == 0:
            return secondaryUp
                ? change(to: .secondary, now, "primary zone \(primaryZone) has no healthy server; \(healthyInSecondary) healthy in \(secondaryZone!)")
                : change(to: .none, now, "no healthy server in primary zone \(primaryZone)\(secondaryZone.map { " or secondary zone \($0)" } ?? "")")
        case .primary:
            return nil
        case .secondary where healthyInPrimary > 0 && (!secondaryUp || now - primaryHealthySince! >= settings.failbackHoldDown):
            let reason =
                secondaryUp
                ? "primary zone \(primaryZone) healthy for \((now - primaryHealthySince!).zonalDescription)"
                : "secondary zone \(secondaryZone!) has no healthy server; primary zone \(primaryZone) has \(healthyInPrimary)"
            return change(to: .primary, now, reason)
        case .secondary where !secondaryUp:
            return change(to: .none, now, "no healthy server in primary zone \(primaryZone) or secondary zone \(secondaryZone!)")
        case .secondary:
            return nil
        case .none where healthyInPrimary > 0:
            return change(to: .primary, now, "primary zone \(primaryZone) has \(healthyInPrimary) healthy server\(healthyInPrimary == 1 ? "" : "s")")
        case .none where secondaryUp:
            return change(to: .secondary, now, "secondary zone \(secondaryZone!) has \(healthyInSecondary) healthy; primary zone \(primaryZone) none")
        case .none:
            return nil
        }
    }

    private mutating func change(to next: Active, _ now: MonotonicInstant, _ cause: String) -> Switch {
        defer { active = next }
        return Switch(from: active, to: next, at: now, cause: cause)
    }
}
