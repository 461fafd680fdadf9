import Foundation
import Logging
import Metrics
import Synchronization
import ZonalCore

/// One running DNS server instance: its zones, the health of its failover records' addresses,
/// and the snapshot every query is answered from. A health change, a reload or an admin
/// request makes a new version of the affected zones (new serial, journal entry for IXFR,
/// NOTIFY to secondaries) and swaps the snapshot; queries in flight finish on the old one.
public final class NameServer: Sendable {
    private struct State: Sendable {
        var plan: DNSPlan
        /// Each zone's records as written (file or generated), before health-checked names.
        var written: [DNSName: [ResourceRecord]]
        var zones: [DNSName: Zone]
        var journals: [DNSName: ZoneJournal]
        var routing: RecordRouting
        var events: [AnswerEvent] = []
    }

    /// A change of a health-checked name's answer, kept for `zonal dns status`.
    public struct AnswerEvent: Sendable, Codable, Hashable {
        public var time: Date
        public var name: String
        public var from: String
        public var to: String
        public var cause: String
    }

    private let state: Mutex<State>
    private let current: Mutex<QueryResponder.Snapshot>
    private let currentGeneration = Atomic<Int>(0)
    private let reloadPlan: @Sendable () throws -> DNSPlan
    private let startSerial: UInt32
    private let reloadObservers = Mutex<[@Sendable () -> Void]>([])
    let metrics: QueryMetrics
    /// Answers kept for reuse, one cache per event loop.
    let answerCaches = AnswerCaches()
    let logger: Logger
    /// Answer changes kept in memory.
    static let eventLimit = 200

    /// Loads the plan's zones; throws a ``ZoneFileError`` or ``ZoneError`` naming the problem.
    public init(plan: DNSPlan, logger: Logger, reloadPlan: @escaping @Sendable () throws -> DNSPlan) throws {
        self.logger = logger
        self.reloadPlan = reloadPlan
        metrics = QueryMetrics(service: plan.service)
        startSerial = UInt32(clamping: Int(Date().timeIntervalSince1970))
        let routing = RecordRouting(answers: Dictionary(plan.records.map { ($0.name, $0.definition) }, uniquingKeysWith: { first, _ in first }))
        var state = State(plan: plan, written: [:], zones: [:], journals: [:], routing: routing)
        try Self.load(plan, into: &state, startSerial: startSerial)
        self.state = Mutex(state)
        current = Mutex(Self.snapshot(of: state))
    }

    /// What queries are answered from right now.
    public var snapshot: QueryResponder.Snapshot { current.withLock { $0 } }

    /// Counts the snapshots made; answers kept from an older one are not reused.
    public var generation: Int { currentGeneration.load(ordering: .acquiring) }

    public var plan: DNSPlan { state.withLock { $0.plan } }

    /// Records a health verdict about one address and, when the name's answer changes, makes
    /// the new zone version and tells the secondaries.
    func setHealth(_ id: RecordRouting.MemberID, healthy: Bool, cause: String) {
        let notifications = state.withLock { state -> [DNSPlan.ZonePlan] in
            guard let change = state.routing.setHealth(id, healthy: healthy, cause: cause) else { return [] }
            logger.notice("answer changed", metadata: ["name": "\(change.name)", "from": "\(change.from)", "to": "\(change.to)", "cause": "\(change.cause)"])
            Counter(label: "zonal_dns_answer_changes_total", dimensions: [("service", state.plan.service), ("name", change.name.description)]).increment()
            state.events.append(AnswerEvent(time: Date(), name: change.name.description, from: change.from, to: change.to, cause: change.cause))
            if state.events.count > Self.eventLimit { state.events.removeFirst(state.events.count - Self.eventLimit) }
            return (try? rebuild(&state)) ?? []
        }
        publish(notifying: notifications)
    }

    /// Reads the topology and the zone files again. Zones that changed get a new serial and
    /// their secondaries a NOTIFY; on any error nothing changes and the error is thrown.
    @discardableResult
    public func reload() throws -> [String] {
        let next = try reloadPlan()
        let changed = try state.withLock { state throws -> [DNSPlan.ZonePlan] in
            var candidate = state
            candidate.plan = next
            candidate.routing.replaceDefinitions(Dictionary(next.records.map { ($0.name, $0.definition) }, uniquingKeysWith: { first, _ in first }))
            candidate.written = [:]
            try Self.load(next, into: &candidate, startSerial: startSerial, previous: state.zones)
            let changed = next.zones.filter { candidate.zones[$0.origin]?.soa.serial != state.zones[$0.origin]?.soa.serial }
            for zone in changed {
                if let old = state.zones[zone.origin], let new = candidate.zones[zone.origin] {
                    candidate.journals[zone.origin, default: ZoneJournal()].record(from: old, to: new)
                }
            }
            state = candidate
            return changed
        }
        publish(notifying: changed)
        logger.notice("reloaded", metadata: ["changed zones": "\(changed.map(\.origin.description))"])
        for observer in reloadObservers.withLock({ $0 }) { observer() }
        return changed.map(\.origin.description)
    }

    /// Calls `observer` after every successful reload.
    func onReload(_ observer: @escaping @Sendable () -> Void) {
        reloadObservers.withLock { $0.append(observer) }
    }

    /// Makes new versions of every zone from the current routing; returns the zones whose
    /// serial moved.
    private func rebuild(_ state: inout State) throws -> [DNSPlan.ZonePlan] {
        var changed: [DNSPlan.ZonePlan] = []
        for zone in state.plan.zones {
            guard let written = state.written[zone.origin], let old = state.zones[zone.origin] else { continue }
            let new = try ZoneVersions.next(
                after: old, origin: zone.origin, written: written, routes: Self.routes(state.routing, in: zone.origin), startSerial: startSerial)
            guard new.soa.serial != old.soa.serial else { continue }
            state.journals[zone.origin, default: ZoneJournal()].record(from: old, to: new)
            state.zones[zone.origin] = new
            changed.append(zone)
        }
        return changed
    }

    private func publish(notifying zones: [DNSPlan.ZonePlan]) {
        let snapshot = state.withLock { Self.snapshot(of: $0) }
        current.withLock { $0 = snapshot }
        currentGeneration.add(1, ordering: .releasing)
        for zone in zones where !zone.notify.isEmpty {
            guard let serial = snapshot.authority.zone(named: zone.origin)?.soa else { continue }
            let host = plan.host
            let logger = self.logger
            Task { await Notifier(localHost: host, logger: logger).notify(zone: zone.origin, soa: serial, targets: zone.notify) }
        }
    }

    private static func load(_ plan: DNSPlan, into state: inout State, startSerial: UInt32, previous: [DNSName: Zone] = [:]) throws {
        for zone in plan.zones {
            let written =
                try zone.file.map { try ZoneFileLoader.records(path: $0, origin: zone.origin) }
                ?? ZoneVersions.generated(origin: zone.origin, nameServers: zone.nameServers, serial: startSerial)
            state.written[zone.origin] = written
            state.zones[zone.origin] = try ZoneVersions.next(
                after: previous[zone.origin], origin: zone.origin, written: written, routes: routes(state.routing, in: zone.origin), startSerial: startSerial)
        }
        for (name, _) in state.routing.answers where !plan.zones.contains(where: { name.isSubdomain(of: $0.origin) }) {
            throw DNSPlanError("record \(name) is in none of the zones")
        }
    }

    private static func routes(_ routing: RecordRouting, in origin: DNSName) -> [DNSName: RouteAnswer] {
        routing.answers.filter { $0.key.isSubdomain(of: origin) }
    }

    private static func snapshot(of state: State) -> QueryResponder.Snapshot {
        QueryResponder.Snapshot(
            authority: Authority(zones: Array(state.zones.values)), journals: state.journals,
            transferTo: Dictionary(state.plan.zones.map { ($0.origin, $0.transferTo) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Every health-checked name with its pools, each address's health and the answer now,
    /// and the zones with their serials.
    public func status() -> DNSStatus {
        state.withLock { state in
            DNSStatus(
                service: state.plan.service, node: state.plan.node,
                zones: state.plan.zones.compactMap { plan in
                    state.zones[plan.origin].map { DNSStatus.ZoneStatus(name: plan.origin.description, serial: $0.soa.serial, records: $0.records.count) }
                },
                records: state.routing.answers.sorted { $0.key.description < $1.key.description }.map { name, answer in
                    DNSStatus.RecordStatus(
                        name: name.description, ttl: Int(answer.ttl), answer: answer.summary,
                        pools: answer.pools.map { pool in
                            DNSStatus.PoolStatus(
                                name: pool.name,
                                members: pool.members.map { .init(address: IPAddressText.text($0.address), weight: $0.weight, healthy: $0.healthy) })
                        },
                        lastChange: state.events.last { $0.name == name.description })
                },
                events: state.events)
        }
    }
}

/// What `zonal dns status` shows of one instance.
public struct DNSStatus: Sendable, Codable, Hashable {
    public var service: String
    public var node: String
    public var zones: [ZoneStatus]
    public var records: [RecordStatus]
    public var events: [NameServer.AnswerEvent]

    public struct ZoneStatus: Sendable, Codable, Hashable {
        public var name: String
        public var serial: UInt32
        public var records: Int
    }

    public struct RecordStatus: Sendable, Codable, Hashable {
        public var name: String
        public var ttl: Int
        public var answer: String
        public var pools: [PoolStatus]
        public var lastChange: NameServer.AnswerEvent?
    }

    public struct PoolStatus: Sendable, Codable, Hashable {
        public var name: String
        public var members: [MemberStatus]
    }

    public struct MemberStatus: Sendable, Codable, Hashable {
        public var address: String
        public var weight: Int
        public var healthy: Bool
    }
}
