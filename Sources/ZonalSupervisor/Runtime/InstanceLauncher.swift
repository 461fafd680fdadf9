import Foundation
import ZonalCore
import ZonalProcess

/// Turns a topology instance into the command line that runs it.
public struct InstanceLauncher: Sendable {
    /// The `zonal` binary, which runs built-in services such as `zonal app`.
    public var zonalExecutable: String
    /// The supervisor's state directory: `{state_dir}` in commands; logs go to its `logs/`.
    public var stateDirectory: String
    /// The topology file, passed to built-in services that read it (balancers); nil for the
    /// built-in quickstart topology.
    public var topologyPath: String?
    /// Who reads the metrics of sample apps (which do not read the topology) without the token.
    public var metrics: MetricsAccess

    public init(zonalExecutable: String, stateDirectory: String, topologyPath: String? = nil, metrics: MetricsAccess = .loopback) {
        self.zonalExecutable = zonalExecutable
        self.stateDirectory = stateDirectory
        self.topologyPath = topologyPath
        self.metrics = metrics
    }

    public func plan(for instance: Topology.Instance) throws -> ProcessPlan {
        let logFile = "\(stateDirectory)/logs/\(instance.id).log"
        let environment = [ParentDeathSignal.environmentKey: String(getpid())]
        switch instance.service.kind {
        case .app:
            var arguments = [
                "app", "--service", instance.service.name, "--node", instance.node.name, "--zone", instance.node.zone,
                "--region", instance.region, "--host", instance.node.address, "--port", String(instance.service.port),
                "--metrics", metrics.rawValue,
            ]
            if let admin = instance.service.adminPort { arguments += ["--admin-port", String(admin)] }
            return ProcessPlan(executable: zonalExecutable, arguments: arguments, environment: environment, logFile: logFile)
        case .balancer:
            return topologyReader(["balancer"], instance, environment: environment, logFile: logFile)
        case .dns:
            return topologyReader(["dns", "serve"], instance, environment: environment, logFile: logFile)
        case .redis:
            return topologyReader(["cache", "agent", "--state-dir", stateDirectory], instance, environment: environment, logFile: logFile)
        case .redisProxy:
            return topologyReader(["cache", "proxy", "--state-dir", stateDirectory], instance, environment: environment, logFile: logFile)
        case .objectStore:
            return topologyReader(["objects", "node", "--state-dir", stateDirectory], instance, environment: environment, logFile: logFile)
        case .s3:
            return topologyReader(["objects", "s3", "--state-dir", stateDirectory], instance, environment: environment, logFile: logFile)
        case .postgres:
            return topologyReader(["db", "agent", "--state-dir", stateDirectory], instance, environment: environment, logFile: logFile)
        case .process(let command):
            let expanded = command.map { instance.expand($0, stateDirectory: stateDirectory) }
            return ProcessPlan(
                executable: try Self.resolve(expanded[0]), arguments: Array(expanded.dropFirst()),
                environment: environment, logFile: logFile)
        }
    }

    /// A built-in service that reads its settings from the topology itself.
    private func topologyReader(_ command: [String], _ instance: Topology.Instance, environment: [String: String], logFile: String) -> ProcessPlan {
        var arguments = command + ["--service", instance.service.name, "--node", instance.node.name]
        if let topologyPath { arguments += ["--topology", topologyPath] }
        return ProcessPlan(executable: zonalExecutable, arguments: arguments, environment: environment, logFile: logFile)
    }

    /// Finds a program the way a shell would: a path as given, a bare name in `PATH`.
    static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ChildProcessError.notStarted(program, reason: "not found in PATH (\(path))")
    }
}
