import Logging
import NIOCore
import Synchronization
import ZonalCoordination
import ZonalCore

/// Which node of a cache service takes writes, learnt from the coordinator the moment it
/// changes: the roles the agents publish under `/zonal/roles/<service>/` (a node is the master
/// only while it runs as an unpaused master *and* holds the leader key). The proxy and the
/// Sentinel listener read it; subscribers hear of every change on their own event loop.
public final class MasterDirectory: Sendable {
    /// What the directory knows now.
    public struct View: Sendable, Hashable {
        /// The node taking writes; nil while there is none (a failover under way).
        public var master: CacheNodePlan.Endpoint?
        /// The master before the last change, for Sentinel's `+switch-master`.
        public var previousMaster: CacheNodePlan.Endpoint?
        /// Nodes replicating from the master, linked.
        public var replicas: [CacheNodePlan.Endpoint]
        /// Counts changes of master, so a subscriber can tell an old view from a new one.
        public var epoch: Int
    }

    /// Someone told of every change of master, on the event loop it lives on.
    public struct Subscriber: Sendable {
        public var loop: any EventLoop
        public var changed: @Sendable (View) -> Void

        public init(loop: any EventLoop, changed: @escaping @Sendable (View) -> Void) {
            self.loop = loop
            self.changed = changed
        }
    }

    public let service: String
    public let endpoints: [CacheNodePlan.Endpoint]
    private let roles: ServiceRoleDirectory
    private let clock: any ZonalClock
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var view = View(master: nil, previousMaster: nil, replicas: [], epoch: 0)
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
    }

    public init(service: String, endpoints: [CacheNodePlan.Endpoint], coordinator: any Coordinator, clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.service = service
        self.endpoints = endpoints
        self.roles = ServiceRoleDirectory(coordinator: coordinator, service: service)
        self.clock = clock
        self.logger = logger
    }

    public var view: View { state.withLock { $0.view } }

    /// Adds a subscriber; the returned number removes it.
    public func subscribe(_ subscriber: Subscriber) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.subscribers[state.nextID] = subscriber
            return state.nextID
        }
    }

    public func unsubscribe(_ id: Int) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
    }

    /// Follows the roles until cancelled.
    public func run() async {
        var current = ServiceRoles()
        await PrefixFollower(coordinator: roles.coordinator, prefix: roles.prefix, clock: clock).run(
            onReading: { reading in
                current = roles.roles(in: reading).roles
                update(current)
            },
            onEvent: { event in
                _ = roles.apply(event, to: &current)
                update(current)
            },
            onError: { error, retry in logger.warning("cannot follow the roles of \(service) (retrying in \(retry.zonalDescription)): \(error)") })
    }

    /// Applies a new set of roles; tells the subscribers when the master or the replicas changed.
    func update(_ roles: ServiceRoles) {
        let master = roles.writer.flatMap { name in endpoints.first { $0.name == name } }
        let replicas = endpoints.filter { roles.byNode[$0.name] == .replica }
        let (changed, subscribers): (View?, [Subscriber]) = state.withLock { state in
            guard state.view.master != master || state.view.replicas != replicas else { return (nil, []) }
            if state.view.master != master {
                if state.view.master != nil { state.view.previousMaster = state.view.master }
                state.view.master = master
                state.view.epoch += 1
            }
            state.view.replicas = replicas
            return (state.view, Array(state.subscribers.values))
        }
        guard let changed else { return }
        logger.notice("master of \(service): \(changed.master?.name ?? "none")", metadata: ["replicas": "\(replicas.map(\.name))"])
        for subscriber in subscribers {
            subscriber.loop.execute { subscriber.changed(changed) }
        }
    }
}
