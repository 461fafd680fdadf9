import Logging
import Synchronization
import ZonalCore

/// Keeps one lease alive and knows, from this side, until when it surely is.
///
/// The lease is renewed every `interval` (a third of its TTL by default, like etcd's own
/// client). Its validity is counted from when each renewal was *sent*: the coordinator extends
/// the lease when it receives the request, which is later, so this side's deadline always comes
/// before the coordinator's. Whoever acts on the lease (a leader accepting writes) stops at
/// ``validUntil``, before anyone else can be granted what the lease protects.
public final class LeaseKeeper: Sendable {
    public let lease: Lease
    private let coordinator: any Coordinator
    private let clock: any ZonalClock
    private let interval: Duration
    private let logger: Logger
    private let deadline: Mutex<MonotonicInstant>

    /// `grantRequestedAt` is when the grant request was sent: the lease is surely valid from then for its TTL.
    public init(
        coordinator: any Coordinator, lease: Lease, grantRequestedAt: MonotonicInstant, clock: any ZonalClock,
        interval: Duration? = nil, logger: Logger
    ) {
        self.coordinator = coordinator
        self.lease = lease
        self.clock = clock
        self.interval = interval ?? lease.ttl / 3
        self.logger = logger
        self.deadline = Mutex(grantRequestedAt + lease.ttl)
    }

    /// The last moment the lease is known to be alive.
    public var validUntil: MonotonicInstant {
        deadline.withLock { $0 }
    }

    public func isValid(at now: MonotonicInstant) -> Bool {
        now < validUntil
    }

    /// Renews until the task is cancelled or the lease is lost; returns why it was lost.
    public func run() async -> String {
        var next = clock.now + interval
        while !Task.isCancelled {
            do { try await clock.sleep(until: next) } catch { return "stopped" }
            let sentAt = clock.now
            do {
                let ttl = try await coordinator.renewLease(lease.id)
                deadline.withLock { $0 = max($0, sentAt + ttl) }
                next = sentAt + interval
            } catch .leaseNotFound {
                deadline.withLock { $0 = min($0, sentAt) }
                return "lease \(lease.id) expired on the coordinator"
            } catch {
                if Task.isCancelled { return "stopped" }
                if clock.now >= validUntil { return "lease \(lease.id) could not be renewed before it expired: \(error)" }
                logger.warning("lease renewal failed; retrying", metadata: ["lease": "\(lease.id)", "error": "\(error)"])
                next = min(clock.now + min(interval, .milliseconds(200)), validUntil)
            }
        }
        return "stopped"
    }
}
