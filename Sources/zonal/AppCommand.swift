import ArgumentParser
import Logging
import ZonalApp
import ZonalCore
import ZonalObservability
import ZonalProcess

extension MetricsAccess: ExpressibleByArgument {}

struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "The sample application backend: answers with its node, zone and region.",
        discussion:
            "Make it misbehave for drills: PUT /fault on the admin port with {\"mode\":\"slow\",\"delay\":\"500ms\"}, {\"mode\":\"fail\",\"status\":503} or {\"mode\":\"none\"}."
    )

    @Option var service = "app"
    @Option var node = "local"
    @Option var zone = "local"
    @Option var region = "local"
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port clients use.") var port: Int = 8080
    @Option(help: "Port for /metrics, /health and /fault (default: the client port).") var adminPort: Int?
    @Option(help: "Who reads /metrics without the admin token: loopback, anyone or token.") var metrics: MetricsAccess = .loopback
    @Option(help: "Start slow: every response waits this long, e.g. 500ms.") var slow: String?
    @Option(help: "Start failing: every response has this 5xx status.") var fail: Int?

    func validate() throws {
        for (name, value) in [("--port", port), ("--admin-port", adminPort)] {
            if let value, !(1...65535).contains(value) { throw ValidationError("\(name) must be from 1 to 65535, got \(value)") }
        }
    }

    func run() async throws {
        ParentDeathSignal.armIfSupervised()
        Observability.bootstrap(logLevel: Observability.logLevelFromEnvironment)
        var logger = Logger(label: "zonal.app")
        logger[metadataKey: "node"] = "\(node)"
        let fault: Fault
        switch (slow, fail) {
        case (let text?, nil):
            guard let delay = Duration(configText: text) else { throw ValidationError("--slow must look like 500ms or 2s, got \(text)") }
            fault = .slow(delay)
        case (nil, let status?):
            guard (500...599).contains(status) else { throw ValidationError("--fail takes a status from 500 to 599, got \(status)") }
            fault = .failing(status: status)
        case (nil, nil):
            fault = .none
        case (.some, .some):
            throw ValidationError("give --slow or --fail, not both")
        }
        let plan = AppPlan(
            service: service, node: node, zone: zone, region: region, host: host, port: port, adminPort: adminPort,
            metrics: metrics)
        try await AppServer(plan: plan, faults: FaultSwitch(fault), tokens: .fromEnvironment(), logger: logger).run()
    }
}
