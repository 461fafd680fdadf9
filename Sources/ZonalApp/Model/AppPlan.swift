import ZonalCore

/// Where a sample application backend runs and who it says it is.
public struct AppPlan: Sendable, Hashable {
    public var service: String
    public var node: String
    public var zone: String
    public var region: String
    /// Address both listeners bind to.
    public var host: String
    /// The port clients (and the load balancer) use.
    public var port: Int
    /// The operator port for `/metrics`, `/health` and `/fault`; nil serves them on `port`.
    public var adminPort: Int?
    /// Who reads `/metrics` without the admin token.
    public var metrics: MetricsAccess

    public init(
        service: String, node: String, zone: String, region: String, host: String, port: Int, adminPort: Int?,
        metrics: MetricsAccess = .loopback
    ) {
        self.service = service
        self.node = node
        self.zone = zone
        self.region = region
        self.host = host
        self.port = port
        self.adminPort = adminPort
        self.metrics = metrics
    }
}
