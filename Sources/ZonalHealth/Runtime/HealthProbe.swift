import ZonalCore

/// One way of asking an instance whether it works. Implementations must return promptly when
/// their task is cancelled: the monitor cancels probes that outlive their timeout.
public protocol HealthProbe: Sendable {
    func check() async -> ProbeOutcome
}

extension HealthCheckSpec {
    /// The probe this spec describes, aimed at `instance`.
    public func makeProbe(for instance: Topology.Instance) -> any HealthProbe {
        switch probe {
        case .tcp(let port):
            return TCPProbe(host: instance.node.address, port: port ?? instance.service.port, timeout: timeout)
        case .http(let path, let port, let status, let body):
            return HTTPProbe(url: "http://\(IPAddressText.hostPort(instance.node.address, port ?? instance.service.port))\(path)",
                             expectedStatus: status, bodyContains: body, timeout: timeout)
        case .command(let command):
            return CommandProbe(command: command.map { instance.expand($0) })
        }
    }
}
