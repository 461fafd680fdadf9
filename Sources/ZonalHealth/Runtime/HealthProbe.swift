import ZonalCore

/// One way of asking an instance whether it works. Implementations must return promptly when
/// their task is cancelled: the monitor cancels probes that outlive their timeout.
public protocol HealthProbe: Sendable {
    func check() async -> ProbeOutcome
}

extension HealthCheckSpec {
    /// The probe this spec describes, aimed at `instance`.
    public func makeProbe(for instance: Topology.Instance) -> any HealthProbe {
        makeProbe(host: instance.node.address, port: instance.service.port) { instance.expand($0) }
    }

    /// The probe this spec describes, aimed at `host:port` (the spec's own port, when it names
    /// one, wins); `expand` fills placeholders of a command probe.
    public func makeProbe(host: String, port servicePort: Int, expand: (String) -> String = { $0 }) -> any HealthProbe {
        switch probe {
        case .tcp(let port):
            return TCPProbe(host: host, port: port ?? servicePort, timeout: timeout)
        case .http(let path, let port, let status, let body):
            return HTTPProbe(
                url: "http://\(IPAddressText.hostPort(host, port ?? servicePort))\(path)",
                expectedStatus: status, bodyContains: body, timeout: timeout)
        case .command(let command):
            return CommandProbe(command: command.map(expand))
        }
    }
}
