import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import ZonalCore
import ZonalObservability

@testable import ZonalApp

@Suite("Sample application backend")
struct AppRoutesTests {
    static let plan = AppPlan(service: "web", node: "east-a-1", zone: "east-a", region: "east", host: "127.0.0.1", port: 8080, adminPort: 9080)

    static let token = AdminToken.generate()

    /// The service port's application, with `/metrics` as when no admin port is configured.
    func application(_ faults: FaultSwitch) -> some ApplicationProtocol {
        Observability.bootstrap()
        let router = Router(context: APIRequestContext.self)
        AppRoutes(plan: Self.plan, faults: faults).addServiceRoutes(to: router)
        router.addMetricsRoute()
        return Application(router: router)
    }

    /// The admin port's application.
    func admin(_ faults: FaultSwitch) -> some ApplicationProtocol {
        Observability.bootstrap()
        let router = Router(context: APIRequestContext.self)
        AppRoutes(plan: Self.plan, faults: faults).addAdminRoutes(to: router, tokens: AdminTokenSource(fixed: Self.token))
        return Application(router: router)
    }

    /// Switches a fault through the admin port, with the token.
    func switchFault(_ faults: FaultSwitch, _ body: String) async throws -> HTTPResponse.Status {
        try await admin(faults).test(.router) { client in
            try await client.execute(uri: "/fault", method: .put, headers: [.authorization: Self.token.authorizationHeader], body: ByteBuffer(string: body)) {
                $0.status
            }
        }
    }

    @Test("the fault switch is on the admin port only, and wants the admin token there")
    func faultSwitchIsGuarded() async throws {
        let faults = FaultSwitch()
        try await application(faults).test(.router) { client in
            try await client.execute(uri: "/fault", method: .put, body: ByteBuffer(string: #"{"mode":"fail","status":502}"#)) { _ in }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
        #expect(faults.fault == .none, "the service port has no fault switch")
        try await admin(faults).test(.router) { client in
            try await client.execute(uri: "/fault", method: .put, body: ByteBuffer(string: #"{"mode":"fail","status":502}"#)) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/fault", method: .put, headers: [.authorization: "Bearer nope"], body: ByteBuffer(string: #"{"mode":"fail","status":502}"#)
            ) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
        #expect(faults.fault == .none)
        #expect(try await switchFault(faults, #"{"mode":"fail","status":502}"#) == .ok)
        #expect(faults.fault == .failing(status: 502))
    }

    @Test("answers with its node, zone and region")
    func identity() async throws {
        try await application(FaultSwitch()).test(.router) { client in
            try await client.execute(uri: "/orders/7", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(body?["node"] as? String == "east-a-1")
                #expect(body?["zone"] as? String == "east-a")
                #expect(body?["region"] as? String == "east")
                #expect(body?["path"] as? String == "/orders/7")
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("a failing fault makes every answer, health included, the chosen 5xx; none restores it")
    func failing() async throws {
        let faults = FaultSwitch()
        #expect(try await switchFault(faults, #"{"mode":"fail","status":502}"#) == .ok)
        #expect(faults.fault == .failing(status: 502))
        try await application(faults).test(.router) { client in
            try await client.execute(uri: "/", method: .get) { #expect($0.status == .badGateway) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .badGateway) }
        }
        #expect(try await switchFault(faults, #"{"mode":"none"}"#) == .ok)
        try await application(faults).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test(
        "bad fault requests get a specific 400 and change nothing",
        arguments: [
            (#"{"mode":"explode"}"#, "mode must be none, slow or fail"),
            (#"{"mode":"slow","delay":"fast"}"#, "delay must look like 500ms"),
            (#"{"mode":"fail","status":200}"#, "status must be from 500 to 599"),
            (#"{"delay":"1s"}"#, "missing `mode`"),
            (#"not json"#, "invalid fault"),
        ])
    func badFault(body: String, message: String) async throws {
        let faults = FaultSwitch(.slow(.milliseconds(1)))
        try await admin(faults).test(.router) { client in
            try await client.execute(uri: "/fault", method: .put, headers: [.authorization: Self.token.authorizationHeader], body: ByteBuffer(string: body)) {
                response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains(message), "\(String(buffer: response.body))")
            }
        }
        #expect(faults.fault == .slow(.milliseconds(1)))
    }

    @Test("metrics are exported in Prometheus text format")
    func metrics() async throws {
        try await application(FaultSwitch()).test(.router) { client in
            try await client.execute(uri: "/", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains(#"zonal_app_requests_total{"#))
            }
        }
    }
}
