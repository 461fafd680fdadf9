import Hummingbird
import Logging
import ServiceLifecycle
import ZonalObservability

/// Runs the sample backend's listeners until SIGTERM or SIGINT.
public struct AppServer: Sendable {
    public let configuration: AppPlan
    public let faults: FaultSwitch
    /// What the admin port's fault switch checks requests against.
    public let tokens: AdminTokenSource
    public var logger: Logger

    public init(configuration: AppPlan, faults: FaultSwitch = FaultSwitch(), tokens: AdminTokenSource, logger: Logger) {
        self.configuration = configuration
        self.faults = faults
        self.tokens = tokens
        self.logger = logger
    }

    /// The applications to run: one on the service port (with `/metrics`), plus one on the
    /// admin port if there is one, the only place faults can be switched.
    public func applications() -> [any Service] {
        let routes = AppRoutes(configuration: configuration, faults: faults)
        let serviceRouter = Router(context: APIRequestContext.self)
        guard let adminPort = configuration.adminPort else {
            serviceRouter.add(
                middleware: AdminTokenMiddleware(tokens: tokens, metrics: configuration.metrics, isOpen: AdminTokenMiddleware<APIRequestContext>.allButMetrics))
            routes.addServiceRoutes(to: serviceRouter)
            serviceRouter.addMetricsRoute()
            return [application(serviceRouter, port: configuration.port)]
        }
        routes.addServiceRoutes(to: serviceRouter)
        let adminRouter = Router(context: APIRequestContext.self)
        routes.addAdminRoutes(to: adminRouter, tokens: tokens, metrics: configuration.metrics)
        return [application(serviceRouter, port: configuration.port), application(adminRouter, port: adminPort)]
    }

    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: applications(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private func application(_ router: Router<APIRequestContext>, port: Int) -> some Service {
        var logger = self.logger
        logger[metadataKey: "port"] = "\(port)"
        return APIServer.application(router: router, host: configuration.host, port: port, name: "zonal-app", logger: logger)
    }
}
