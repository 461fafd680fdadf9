import Logging
import ServiceLifecycle
import ZonalCore

/// Runs a ``Supervisor`` as a lifecycle service: starts the topology, reports when it is ready,
/// and on SIGTERM/SIGINT stops every child before returning.
public struct SupervisorService: Service {
    public let supervisor: Supervisor
    /// How long to wait for every instance to become healthy before reporting anyway.
    public var readyTimeout: Duration
    /// Called once, when every instance is healthy or the timeout passed.
    public var onReady: @Sendable (StatusReport, _ allHealthy: Bool) async -> Void

    public init(supervisor: Supervisor, readyTimeout: Duration, onReady: @escaping @Sendable (StatusReport, Bool) async -> Void) {
        self.supervisor = supervisor
        self.readyTimeout = readyTimeout
        self.onReady = onReady
    }

    public func run() async throws {
        await supervisor.start()
        await cancelWhenGracefulShutdown {
            let healthy = await supervisor.waitUntilAllHealthy(timeout: readyTimeout)
            await onReady(await supervisor.status(), healthy)
        }
        try? await gracefulShutdown()
        await supervisor.shutdown()
    }
}
