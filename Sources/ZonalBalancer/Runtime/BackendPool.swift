import Synchronization
import ZonalCore

/// The live state of one pool, shared by every connection of every listener that uses it:
/// which servers are healthy (active checks), ejected (passive checks) or busy, which zone
/// serves, and whose turn it is.
public final class BackendPool: Sendable {
    /// What an active health check last said about a server; unknown servers take traffic,
    /// as in HAProxy, until a check says otherwise.
    public enum Health: Sendable, Hashable {
        case unknown, healthy, unhealthy
    }

    private struct State: Sendable {
        var health: [String: Health] = [:]
        var active: [String: Int] = [:]
        var roundRobin = SmoothWeightedRoundRobin()
        var leastConnections = LeastConnections()
        var ring: ConsistentHashRing
        var zones: ZoneFailoverPolicy?
        var outliers: OutlierDetector
        var switches: [ZoneFailoverPolicy.Switch] = []
    }

    public let configuration: PoolConfiguration
    private let clock: any ZonalClock
    private let state: Mutex<State>

    public init(configuration: PoolConfiguration, clock: any ZonalClock = SystemClock()) {
        self.configuration = configuration
        self.clock = clock
        let zones = configuration.primaryZone.map {
            ZoneFailoverPolicy(primaryZone: $0, secondaryZone: configuration.secondaryZone, settings: configuration.failover)
        }
        self.state = Mutex(State(ring: ConsistentHashRing(backends: configuration.backends), zones: zones,
                                 outliers: OutlierDetector(settings: configuration.outliers)))
    }

    /// Picks a server for a new connection or request; nil when none can take it.
    /// `excluding` holds servers that already failed for this client.
    public func choose(client: String, excluding: Set<String> = []) -> Backend? {
        let now = clock.now
        return state.withLock { state -> Backend? in
            reevaluateZones(&state, now: now)
            let serving = state.zones?.servingZone
            if state.zones != nil && serving == nil { return nil }
            let candidates = configuration.backends.filter { backend in
                (serving == nil || backend.zone == serving) && backend.weight > 0 && !excluding.contains(backend.id)
                    && state.health[backend.id, default: .unknown] != .unhealthy && !state.outliers.isEjected(backend.id, now: now)
            }
            switch configuration.scheduling {
            case .roundRobin:
                return state.roundRobin.pick(from: candidates)
            case .leastConnections:
                let active = state.active
                return state.leastConnections.pick(from: candidates) { active[$0.id, default: 0] }
            case .sourceHash:
                guard !candidates.isEmpty else { return nil }
                let ids = Set(candidates.map(\.id))
                // The ring has every server; walk on from the owner when it cannot serve.
                if let owner = state.ring.backend(for: client), ids.contains(owner.id) { return owner }
                return ConsistentHashRing(backends: candidates).backend(for: client)
            }
        }
    }

    /// Records an active health-check verdict for a server.
    public func setHealth(_ backend: String, _ health: Health) {
        let now = clock.now
        state.withLock { state in
            state.health[backend] = health
            reevaluateZones(&state, now: now)
        }
    }

    public func connectionOpened(to backend: String) {
        state.withLock { $0.active[backend, default: 0] += 1 }
    }

    public func connectionClosed(to backend: String) {
        state.withLock { $0.active[backend, default: 1] -= 1 }
    }

    /// A connection or request to `backend` failed; enough in a row eject it for a while.
    @discardableResult
    public func recordFailure(_ backend: String, reason: String) -> OutlierDetector.Ejection? {
        let now = clock.now
        return state.withLock { $0.outliers.recordFailure(backend, reason: reason, now: now) }
    }

    public func recordSuccess(_ backend: String) {
        let now = clock.now
        state.withLock { $0.outliers.recordSuccess(backend, now: now) }
    }

    /// The zone serving now (nil for a pool without zones, or when none can serve).
    public var servingZone: String? {
        let now = clock.now
        return state.withLock { state in
            reevaluateZones(&state, now: now)
            return state.zones?.servingZone
        }
    }

    /// Every zone switch so far, with its cause and time.
    public var zoneSwitches: [ZoneFailoverPolicy.Switch] {
        state.withLock { $0.switches }
    }

    public func activeConnections(_ backend: String) -> Int {
        state.withLock { $0.active[backend, default: 0] }
    }

    private func reevaluateZones(_ state: inout State, now: MonotonicInstant) {
        guard var zones = state.zones else { return }
        let counts = Self.healthyCounts(configuration, state)
        if let change = zones.update(healthyInPrimary: counts.primary, healthyInSecondary: counts.secondary, now: now) {
            state.switches.append(change)
        }
        state.zones = zones
    }

    private static func healthyCounts(_ configuration: PoolConfiguration, _ state: State) -> (primary: Int, secondary: Int) {
        func count(_ zone: String?) -> Int {
            guard let zone else { return 0 }
            return configuration.backends.filter { $0.zone == zone && $0.weight > 0 && state.health[$0.id, default: .unknown] != .unhealthy }.count
        }
        return (count(configuration.primaryZone), count(configuration.secondaryZone))
    }
}
