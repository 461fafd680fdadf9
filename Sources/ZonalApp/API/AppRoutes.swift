import Foundation
import Hummingbird
import Metrics
import ZonalCore
import ZonalObservability

/// The HTTP surface of the sample backend: `/` says who answered, `/health` says whether it
/// works; on the admin port, `/fault` switches misbehaviour for drills.
public struct AppRoutes: Sendable {
    public let configuration: AppConfiguration
    public let faults: FaultSwitch
    private let requests: Counter

    public init(configuration: AppConfiguration, faults: FaultSwitch) {
        self.configuration = configuration
        self.faults = faults
        self.requests = Counter(label: "zonal_app_requests_total", dimensions: [("service", configuration.service), ("node", configuration.node)])
    }

    /// What `/` answers: enough for a client to see which zone served it.
    struct Identity: Encodable {
        var service, node, zone, region, host: String
        var port: Int
        var pid: Int32
        var path: String
    }

    /// Routes clients use.
    public func addServiceRoutes(to router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in
            try await applyFault { Response.json(["status": "ok", "node": configuration.node, "zone": configuration.zone]) }
        }
        let identify: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            requests.increment()
            return try await applyFault {
                Response.json(Identity(service: configuration.service, node: configuration.node, zone: configuration.zone,
                                       region: configuration.region, host: configuration.host, port: configuration.port,
                                       pid: ProcessInfo.processInfo.processIdentifier, path: request.uri.path))
            }
        }
        router.get("/", use: identify)
        router.get("/**", use: identify)
    }

    /// Routes operators use: metrics, health and the fault switch. With `sharingServiceRoutes`
    /// the router already has the service's own `/health`, which is kept.
    public func addAdminRoutes(to router: Router<BasicRequestContext>, sharingServiceRoutes: Bool = false) {
        let faults = self.faults
        if sharingServiceRoutes {
            router.addMetricsRoute()
        } else {
            router.addAdminRoutes { if case .failing = faults.fault { false } else { true } }
        }
        router.get("/fault") { _, _ in Response.json(faults.fault) }
        router.put("/fault") { request, context -> Response in
            let fault: Fault
            do {
                let body = try await request.body.collect(upTo: 4096)
                fault = try JSONDecoder().decode(Fault.self, from: Data(buffer: body))
            } catch {
                return Response.json(status: .badRequest, ["error": "invalid fault: \(Self.explain(error))"])
            }
            faults.fault = fault
            context.logger.notice("fault switched", metadata: ["fault": "\(fault)"])
            return Response.json(fault)
        }
    }

    private func applyFault(_ respond: () -> Response) async throws -> Response {
        switch faults.fault {
        case .none:
            return respond()
        case .slow(let delay):
            try await Task.sleep(for: delay)
            return respond()
        case .failing(let status):
            return Response.json(status: .init(code: status), ["status": "failing", "node": configuration.node])
        }
    }

    private static func explain(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        if case DecodingError.keyNotFound(let key, _) = error { return "missing `\(key.stringValue)`" }
        if case DecodingError.typeMismatch(_, let context) = error { return context.debugDescription }
        return "\(error)"
    }
}
