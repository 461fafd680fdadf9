import Foundation
import Synchronization
import ZonalCore

/// The live state of one pool, shared by every connection of every listener that uses it:
/// which servers are healthy (active checks), ejected (passive checks) or busy, which zone
/// serves, and whose turn it is.
///
/// The plan can be replaced at run time (reload, admin API); servers that stay keep
/// their health, ejections and active counts, so a reload does not send traffic to a server a
/// check has just found dead.
public final class BackendPool: Sendable {
    /// What an active health check last said about a server; unknown servers take traffic,
    /// as in HAProxy, until a check says otherwise.
    public enum Health: String, Sendable, Hashable, Codable {
        case unknown, healthy, unhealthy
    }

    private struct State: Sendable {
        var plan: PoolPlan
        var health: [String: Health] = [:]
        var active: [String: Int] = [:]
        var roundRobin = SmoothWeightedRoundRobin()
        var leastConnections = LeastConnections()
        var ring: ConsistentHashRing
        var tokens: [String: String]
        var zones: ZoneFailoverPolicy?
        var outliers: OutlierDetector
        /// Every change of serving zone, with the wall-clock time it happened.
        var switches: [(change: ZoneFailoverPolicy.Switch, at: Date)] = []
        /// Source-address persistence: client address to server id and last use.
        var affinity: [String: Affinity] = [:]
        var affinityWrites = 0

        init(plan: PoolPlan) {
            self.plan = plan
            self.ring = ConsistentHashRing(backends: plan.backends)
            self.tokens = Dictionary(plan.backends.map { ($0.persistenceToken, $0.id) }, uniquingKeysWith: { first, _ in first })
            self.zones = plan.primaryZone.map {
                ZoneFailoverPolicy(primaryZone: $0, secondaryZone: plan.secondaryZone, settings: plan.failover)
            }
            self.outliers = OutlierDetector(settings: plan.outliers)
        }
    }

    /// A client's persisted server under source-address persistence.
    struct Affinity: Sendable {
        var server: String
        var lastUsed: MonotonicInstant
        /// When other instances last heard of this entry; shared again after a quarter of the
        /// timeout, so its shared copy does not lapse while the client is active.
        var lastShared: MonotonicInstant
    }

    private let clock: any ZonalClock
    private let state: Mutex<State>
    private let onZoneSwitch: @Sendable (String, ZoneFailoverPolicy.Switch) -> Void
    private let onAffinity: @Sendable (String, String, String) -> Void

    /// `onZoneSwitch` is told of every change of serving zone (pool name, switch), as it
    /// happens; `onAffinity` of every client newly persisted to a server (pool, client, server
    /// id), so other balancer instances can learn it.
    public init(
        plan: PoolPlan,
        clock: any ZonalClock = SystemClock(),
        onZoneSwitch: @escaping @Sendable (String, ZoneFailoverPolicy.Switch) -> Void = { _, _ in },
        onAffinity: @escaping @Sendable (String, String, String) -> Void = { _, _, _ in }
    ) {
        self.name = plan.name
        self.clock = clock
        self.onZoneSwitch = onZoneSwitch
        self.onAffinity = onAffinity
        self.state = Mutex(State(plan: plan))
    }

    /// The pool's name; fixed for its life, so reading it takes no lock.
    public let name: String

    public var plan: PoolPlan {
        state.withLock { $0.plan }
    }

    /// What each request needs of the plan, without copying the server list.
    public struct RequestPolicy: Sendable {
        public var persistence: PoolPlan.Persistence
        public var retries: Int
        public var connectTimeout: Duration
    }

    public var requestPolicy: RequestPolicy {
        state.withLock {
            RequestPolicy(persistence: $0.plan.persistence, retries: $0.plan.retries, connectTimeout: $0.plan.connectTimeout)
        }
    }

    /// Replaces the pool's servers and settings (the name stays). Kept servers keep their health
    /// and ejections; a changed zone layout restarts the failover policy from the current health.
    public func reconfigure(_ plan: PoolPlan) {
        precondition(plan.name == name, "a pool keeps its name")
        let now = clock.now
        let change: ZoneFailoverPolicy.Switch? = state.withLock { state in
            var next = State(plan: plan)
            let kept = Set(plan.backends.map(\.id))
            next.health = state.health.filter { kept.contains($0.key) }
            next.active = state.active
            next.roundRobin = state.roundRobin
            next.leastConnections = state.leastConnections
            next.switches = state.switches
            next.affinity = state.affinity
            if plan.outliers == state.plan.outliers { next.outliers = state.outliers }
            if let old = state.zones, let new = next.zones, old.primaryZone == new.primaryZone,
                old.secondaryZone == new.secondaryZone, old.settings == new.settings
            {
                next.zones = old
            }
            state = next
            return Self.reevaluateZones(&state, now: now)
        }
        if let change { onZoneSwitch(name, change) }
    }

    /// Picks a server for a new connection or request; nil when none can take it.
    /// `excluding` holds servers that already failed for this client. When every eligible
    /// server of the serving zone has failed for this client, the secondary zone is tried too:
    /// a retry should not fail because health checks have not noticed the zone is down yet.
    public func choose(client: String, excluding: Set<String> = []) -> Backend? {
        let now = clock.now
        let (backend, change, remembered) = state.withLock { state -> (Backend?, ZoneFailoverPolicy.Switch?, Bool) in
            let change = Self.reevaluateZones(&state, now: now)
            guard case .sourceAddress(let timeout) = state.plan.persistence else {
                return (Self.pickInZones(&state, client: client, excluding: excluding, now: now), change, false)
            }
            if excluding.isEmpty, let affinity = state.affinity[client], now - affinity.lastUsed < timeout,
                let kept = Self.eligibleServer(state, id: affinity.server, now: now)
            {
                state.affinity[client]?.lastUsed = now
                let share = now - affinity.lastShared > timeout / 4
                if share { state.affinity[client]?.lastShared = now }
                return (kept, change, share)
            }
            let chosen = Self.pickInZones(&state, client: client, excluding: excluding, now: now)
            if let chosen { Self.remember(&state, client: client, server: chosen.id, now: now, timeout: timeout) }
            return (chosen, change, chosen != nil)
        }
        if let change { onZoneSwitch(name, change) }
        if remembered, let backend { onAffinity(name, client, backend.id) }
        return backend
    }

    /// Picks a server by consistent hashing of `key` (an application's session id), whatever
    /// the pool's scheduling: one key, one server, on every balancer instance; a server leaving
    /// moves only its keys.
    public func choose(hashing key: String, excluding: Set<String> = []) -> Backend? {
        let now = clock.now
        let (backend, change) = state.withLock { state -> (Backend?, ZoneFailoverPolicy.Switch?) in
            let change = Self.reevaluateZones(&state, now: now)
            return (Self.pickInZones(&state, client: key, excluding: excluding, now: now, scheduling: .sourceHash), change)
        }
        if let change { onZoneSwitch(name, change) }
        return backend
    }

    /// Adopts a client's server chosen by another balancer instance of this pool.
    public func importAffinity(client: String, server: String) {
        let now = clock.now
        state.withLock { state in
            guard case .sourceAddress(let timeout) = state.plan.persistence else { return }
            Self.remember(&state, client: client, server: server, now: now, timeout: timeout)
        }
    }

    /// The server a client is persisted to under source-address persistence, if any.
    public func persistedServer(for client: String) -> String? {
        state.withLock { $0.affinity[client]?.server }
    }

    /// Forgets a client's server (its shared entry expired or was removed).
    public func forgetAffinity(client: String) {
        state.withLock { _ = $0.affinity.removeValue(forKey: client) }
    }

    /// The server a persistence cookie token names, if it may take a request now (healthy,
    /// not ejected, not draining, in the serving zone); otherwise the client is rebalanced.
    public func backend(forToken token: String) -> Backend? {
        let now = clock.now
        return state.withLock { state -> Backend? in
            guard let id = state.tokens[token] else { return nil }
            return Self.eligibleServer(state, id: id, now: now)
        }
    }

    /// The server with this id, if it may take a request now (see ``backend(forToken:)``).
    public func eligibleBackend(id: String) -> Backend? {
        let now = clock.now
        return state.withLock { Self.eligibleServer($0, id: id, now: now) }
    }

    /// Records an active health-check verdict for a server. A server found healthy after
    /// being unhealthy is readmitted even if passive checks had ejected it, as HAProxy's
    /// `observe` does: the check that brings it back is the better witness.
    public func setHealth(_ backend: String, _ health: Health) {
        let now = clock.now
        let change = state.withLock { state -> ZoneFailoverPolicy.Switch? in
            if health == .healthy && state.health[backend] == .unhealthy { state.outliers.readmit(backend, now: now) }
            state.health[backend] = health
            return Self.reevaluateZones(&state, now: now)
        }
        if let change { onZoneSwitch(name, change) }
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
        let (ejection, change) = state.withLock { state -> (OutlierDetector.Ejection?, ZoneFailoverPolicy.Switch?) in
            let ejection = state.outliers.recordFailure(backend, reason: reason, now: now)
            return (ejection, ejection == nil ? nil : Self.reevaluateZones(&state, now: now))
        }
        if let change { onZoneSwitch(name, change) }
        return ejection
    }

    public func recordSuccess(_ backend: String) {
        let now = clock.now
        state.withLock { $0.outliers.recordSuccess(backend, now: now) }
    }

    /// The zone serving now (nil for a pool without zones, or when none can serve).
    public var servingZone: String? {
        let now = clock.now
        let (zone, change) = state.withLock { state in
            let change = Self.reevaluateZones(&state, now: now)
            return (state.zones?.servingZone, change)
        }
        if let change { onZoneSwitch(name, change) }
        return zone
    }

    /// When the pool must be looked at again for a pending failback, if one is pending.
    public var nextZoneDecision: MonotonicInstant? {
        state.withLock { $0.zones?.nextDecision }
    }

    /// Every zone switch so far, with its cause and time.
    public var zoneSwitches: [ZoneFailoverPolicy.Switch] {
        state.withLock { $0.switches.map(\.change) }
    }

    public func activeConnections(_ backend: String) -> Int {
        state.withLock { $0.active[backend, default: 0] }
    }

    /// Everything an operator needs to see about the pool, taken at one instant.
    public func snapshot() -> PoolSnapshot {
        let now = clock.now
        return state.withLock { state in
            _ = Self.reevaluateZones(&state, now: now)
            return PoolSnapshot(
                name: state.plan.name,
                scheduling: state.plan.scheduling.rawValue,
                primaryZone: state.plan.primaryZone,
                secondaryZone: state.plan.secondaryZone,
                servingZone: state.zones?.servingZone,
                servers: state.plan.backends.map { backend in
                    PoolSnapshot.Server(
                        id: backend.id, address: backend.host, port: backend.port, zone: backend.zone,
                        weight: backend.weight, health: state.health[backend.id, default: .unknown],
                        ejected: state.outliers.isEjected(backend.id, now: now),
                        active: state.active[backend.id, default: 0])
                },
                zoneSwitches: state.switches.map {
                    PoolSnapshot.ZoneSwitch(at: $0.at, from: $0.change.from.rawValue, to: $0.change.to.rawValue, cause: $0.change.cause)
                }
            )
        }
    }

    // MARK: - Decisions under the lock

    private static func pickInZones(
        _ state: inout State, client: String, excluding: Set<String>, now: MonotonicInstant,
        scheduling: PoolPlan.Scheduling? = nil
    ) -> Backend? {
        let scheduling = scheduling ?? state.plan.scheduling
        guard let zones = state.zones else {
            return pick(&state, client: client, from: candidates(state, zone: nil, excluding: excluding, now: now), scheduling: scheduling)
        }
        for zone in zoneOrder(zones, retrying: !excluding.isEmpty) {
            let found = candidates(state, zone: zone, excluding: excluding, now: now)
            if let chosen = pick(&state, client: client, from: found, scheduling: scheduling) { return chosen }
        }
        return nil
    }

    /// The most clients the source-address table holds: a flood of new addresses evicts the
    /// least recently seen instead of growing the balancer's memory without end.
    static let maximumAffinityEntries = 100_000

    private static func remember(_ state: inout State, client: String, server: String, now: MonotonicInstant, timeout: Duration) {
        state.affinity[client] = Affinity(server: server, lastUsed: now, lastShared: now)
        state.affinityWrites += 1
        // Sweep lapsed entries now and then, so the table stays as large as its live clients.
        if state.affinityWrites % 4096 == 0 {
            state.affinity = state.affinity.filter { now - $0.value.lastUsed < timeout }
        }
        if state.affinity.count > maximumAffinityEntries {
            // Evict the least recently used tenth at once, so eviction is rare and cheap per client.
            let evicted = state.affinity.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(maximumAffinityEntries / 10)
            for (client, _) in evicted { state.affinity.removeValue(forKey: client) }
        }
    }

    private static func zoneOrder(_ zones: ZoneFailoverPolicy, retrying: Bool) -> [String] {
        guard let serving = zones.servingZone else { return [] }
        guard retrying, serving == zones.primaryZone, let secondary = zones.secondaryZone else { return [serving] }
        return [serving, secondary]
    }

    private static func candidates(_ state: State, zone: String?, excluding: Set<String>, now: MonotonicInstant) -> [Backend] {
        state.plan.backends.filter { backend in
            (zone == nil || backend.zone == zone) && !excluding.contains(backend.id) && isEligible(state, backend, now: now)
        }
    }

    private static func isEligible(_ state: State, _ backend: Backend, now: MonotonicInstant) -> Bool {
        backend.weight > 0 && state.health[backend.id, default: .unknown] != .unhealthy && !state.outliers.isEjected(backend.id, now: now)
    }

    private static func eligibleServer(_ state: State, id: String, now: MonotonicInstant) -> Backend? {
        guard let backend = state.plan.backends.first(where: { $0.id == id }), isEligible(state, backend, now: now) else { return nil }
        if let serving = state.zones?.servingZone, backend.zone != serving { return nil }
        if state.zones != nil && state.zones?.servingZone == nil { return nil }
        return backend
    }

    private static func pick(_ state: inout State, client: String, from candidates: [Backend], scheduling: PoolPlan.Scheduling) -> Backend? {
        switch scheduling {
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

    private static func reevaluateZones(_ state: inout State, now: MonotonicInstant) -> ZoneFailoverPolicy.Switch? {
        guard var zones = state.zones else { return nil }
        let primary = healthyCount(state, zone: zones.primaryZone, now: now)
        let secondary = zones.secondaryZone.map { healthyCount(state, zone: $0, now: now) } ?? 0
        let change = zones.update(healthyInPrimary: primary, healthyInSecondary: secondary, now: now)
        if let change { state.switches.append((change, Date())) }
        state.zones = zones
        return change
    }

    /// Servers of `zone` that could take traffic: neither found dead by a check nor ejected.
    /// Draining servers (weight 0) do not count, so draining a whole zone moves its traffic.
    private static func healthyCount(_ state: State, zone: String, now: MonotonicInstant) -> Int {
        state.plan.backends.reduce(0) { count, backend in
            count + (backend.zone == zone && isEligible(state, backend, now: now) ? 1 : 0)
        }
    }
}

/// A pool as the admin API shows it.
public struct PoolSnapshot: Sendable, Codable, Hashable {
    public struct Server: Sendable, Codable, Hashable {
        public var id: String
        public var address: String
        public var port: Int
        public var zone: String
        public var weight: Int
        public var health: BackendPool.Health
        public var ejected: Bool
        public var active: Int
    }

    public struct ZoneSwitch: Sendable, Codable, Hashable {
        public var at: Date
        public var from: String
        public var to: String
        public var cause: String
    }

    public var name: String
    public var scheduling: String
    public var primaryZone: String?
    public var secondaryZone: String?
    public var servingZone: String?
    public var servers: [Server]
    public var zoneSwitches: [ZoneSwitch]
}
