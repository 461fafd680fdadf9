import Foundation
import Hummingbird
import Metrics
import ZonalCore
import ZonalObservability

/// The HTTP surface of the sample backend: `/` says who answered, `/health` says whether it
/// works; on the admin port, `/fault` switches misbehaviour for drills (with the admin token).
public struct AppRoutes: Sendable {
    public let plan: AppPlan
    public let faults: FaultSwitch
    private let requests: Counter

    public init(plan: AppPlan, faults: FaultSwitch) {
        self.plan = plan
        self.faults = faults
        self.requests = Counter(label: "zonal_app_requests_total", dimensions: [("service", plan.service), ("node", plan.node)])
    }

    /// What `/` answers: enough for a client to see which zone served it.
    struct Identity: Encodable {
        var service, node, zone, region, host: String
        var port: Int
        var pid: Int32
        var path: String
    }

    /// Routes clients use.
    public func addServiceRoutes(to router: Router<APIRequestContext>) {
        router.get("/health") { _, _ in
            try await applyFault { Response.json(["status": "ok", "node": plan.node, "zone": plan.zone]) }
        }
        let identify: @Sendable (Request, APIRequestContext) async throws -> Response = { request, _ in
            requests.increment()
            return try await applyFault {
                Response.json(
                    Identity(
                        service: plan.service, node: plan.node, zone: plan.zone,
                        region: plan.region, host: plan.host, port: plan.port,
                        pid: ProcessInfo.processInfo.processIdentifier, path: request.uri.path))
            }
        }
        router.get("/download") { request, _ -> Response in
            try Self.download(request)
        }
        router.get("/", use: identify)
        router.get("/**", use: identify)
    }

    /// Routes operators use, on the admin port only: metrics (for the peers `metrics` admits),
    /// health and the fault switch, which wants the admin token. Clients on the service port can
    /// never switch a fault on.
    public func addAdminRoutes(to router: Router<APIRequestContext>, tokens: AdminTokenSource, metrics: MetricsAccess = .loopback) {
        let faults = self.faults
        router.add(middleware: AdminTokenMiddleware(tokens: tokens, metrics: metrics))
        router.addAdminRoutes { if case .failing = faults.fault { false } else { true } }
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
            return Response.json(status: .init(code: status), ["status": "failing", "node": plan.node])
        }
    }

    /// `GET /download?bytes=N&rate=R`: N bytes (default 1 MiB, at most 1 GiB), paced to about R
    /// bytes per second when given, so drills have a long-running transfer to keep alive.
    private static func download(_ request: Request) throws -> Response {
        let size = request.uri.queryParameters.get("bytes", as: Int.self) ?? 1 << 20
        let rate = request.uri.queryParameters.get("rate", as: Int.self)
        guard (0...(1 << 30)).contains(size), rate.map({ $0 > 0 }) ?? true else {
            return Response.json(status: .badRequest, ["error": "bytes must be 0 to 1073741824 and rate above 0"])
        }
        let chunk = 64 * 1024
        let body = ResponseBody { writer in
            var sent = 0
            while sent < size {
                let count = min(chunk, size - sent)
                try await writer.write(ByteBuffer(repeating: UInt8(ascii: "d"), count: count))
                sent += count
                if let rate, sent < size { try await Task.sleep(for: .seconds(Double(count) / Double(rate))) }
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentLength] = String(size)
        headers[.contentType] = "application/octet-stream"
        return Response(status: .ok, headers: headers, body: body)
    }

    private static func explain(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        if case DecodingError.keyNotFound(let key, _) = error { return "missing `\(key.stringValue)`" }
        if case DecodingError.typeMismatch(_, let context) = error { return context.debugDescription }
        return "\(error)"
    }
}
