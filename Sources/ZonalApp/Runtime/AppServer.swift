import Hummingbird
import Logging
import ServiceLifecycle
import ZonalObservability

/// Runs the sample backend's listeners until SIGTERM or SIGINT.
public struct AppServer: Sendable {
    public let plan: AppPlan
    public let faults: FaultSwitch
    /// What the admin port's fault switch checks requests against.
    public let tokens: AdminTokenSource
    public var logger: Logger

    public init(plan: AppPlan, faults: FaultSwitch = FaultSwitch(), tokens: AdminTokenSource, logger: Logger) {
        self.plan = plan
        self.faults = faults
        self.tokens = tokens
        self.logger = logger
    }

    /// The applications to run: one on the service port (with `/metrics`), plus one on the
    /// admin port if there is one, the only place faults can be switched.
    public func applications() -> [any Service] {
        let routes = AppRoutes(plan: plan, faults: faults)
        let serviceRouter = Router(context: APIRequestContext.self)
        guard let adminPort = plan.adminPort else {
            serviceRouter.add(
                middleware: AdminTokenMiddleware(tokens: tokens, metrics: plan.metrics, isOpen: AdminTokenMiddleware<APIRequestContext>.allButMetrics))
            routes.addServiceRoutes(to: serviceRouter)
            serviceRouter.addMetricsRoute()
            return [application(serviceRouter, port: plan.port)]
        }
        routes.addServiceRoutes(to: serviceRouter)
        let adminRouter = Router(context: APIRequestContext.self)
        routes.addAdminRoutes(to: adminRouter, tokens: tokens, metrics: plan.metrics)
        return [application(serviceRouter, port: plan.port), application(adminRouter, port: adminPort)]
    }

    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: applications(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private func application(_ router: Router<APIRequestContext>, port: Int) -> some Service {
        var logger = self.logger
        logger[metadataKey: "port"] = "\(port)"
        return APIServer.application(router: router, host: plan.host, port: port, name: "zonal-app", logger: logger)
    }
}
