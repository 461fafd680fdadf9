import Logging
import Synchronization
import ZonalCore

/// The one lease an agent holds its keys on: granted when it has none, kept alive by a
/// ``LeaseKeeper``, forgotten (and logged) when lost, so the next cycle grants a new one. The
/// database and cache agents hold their member and leader keys on it.
public final class AgentLease: Sendable {
    public let coordinator: any Coordinator
    public let ttl: Duration
    private let clock: any ZonalClock
    private let logger: Logger
    private let state = Mutex<(keeper: LeaseKeeper?, renewing: Task<Void, Never>?)>((nil, nil))

    public init(coordinator: any Coordinator, ttl: Duration, clock: any ZonalClock, logger: Logger) {
        self.coordinator = coordinator
        self.ttl = ttl
        self.clock = clock
        self.logger = logger
    }

    /// The keeper of the live lease; nil while there is none.
    public var keeper: LeaseKeeper? { state.withLock { $0.keeper } }

    /// Grants a lease when there is none; a coordinator that cannot be reached leaves none.
    public func ensure() async {
        guard keeper == nil else { return }
        let requestedAt = clock.now
        guard let lease = try? await coordinator.grantLease(ttl: ttl) else { return }
        let keeper = LeaseKeeper(coordinator: coordinator, lease: lease, grantRequestedAt: requestedAt, clock: clock, logger: logger)
        let renewing = Task {
            let why = await keeper.run()
            self.ended(keeper, why)
        }
        state.withLock { $0 = (keeper, renewing) }
    }

    private func ended(_ keeper: LeaseKeeper, _ why: String) {
        let wasCurrent = state.withLock { state in
            guard state.keeper === keeper else { return false }
            state = (nil, nil)
            return true
        }
        if wasCurrent { logger.warning("lost the lease: \(why)") }
    }

    /// Gives the lease up at once (on shutdown), so the keys on it vanish now, not at expiry.
    public func revoke() async {
        let (keeper, renewing) = state.withLock { state in
            defer { state = (nil, nil) }
            return state
        }
        renewing?.cancel()
        if let keeper { try? await coordinator.revokeLease(keeper.lease.id) }
    }
}
