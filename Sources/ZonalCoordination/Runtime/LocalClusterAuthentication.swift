import Logging
import ServiceLifecycle
import ZonalCore

/// Turns authentication on in the etcd members `zonal up` runs itself (`local_cluster`) as soon
/// as they answer, so that they want credentials like every other control surface. Root's
/// password is the admin token, which every child and command already finds; the setting is
/// kept in etcd's data, so later starts find it on and this ends at the first login.
public struct LocalClusterAuthentication: Service {
    public let client: EtcdCoordinator
    /// The pause between attempts while the members start.
    public let retryDelay: Duration
    public let clock: any ZonalClock
    public let logger: Logger

    public init(client: EtcdCoordinator, retryDelay: Duration = .milliseconds(200), clock: any ZonalClock = SystemClock(), logger: Logger) {
        self.client = client
        self.retryDelay = retryDelay
        self.clock = clock
        self.logger = logger
    }

    /// Tries until authentication is on, then returns; ends early on shutdown.
    public func run() async throws {
        var lastFailure = ""
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await client.enableAuthentication()
                logger.info("authentication is on in the local etcd cluster (user \(CoordinatorServer.user), password: the admin token)")
                return
            } catch {
                if error.description != lastFailure { logger.debug("local etcd cluster not ready for authentication yet: \(error)") }
                lastFailure = error.description
            }
            let clock = self.clock
            let retryDelay = self.retryDelay
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: retryDelay) }
        }
    }
}
