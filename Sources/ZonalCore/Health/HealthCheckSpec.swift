/// How one service instance is probed, and how many results in a row change its health.
///
/// The fields mirror what HAProxy operators know (`inter`, `timeout check`, `rise`, `fall`);
/// the defaults detect a dead server in about two seconds.
public struct HealthCheckSpec: Hashable, Sendable {
    /// What one probe does.
    public enum Probe: Hashable, Sendable {
        /// A TCP connect to the instance's address; `port` nil means the service port.
        case tcp(port: Int?)
        /// An HTTP GET of `path` expecting `expectedStatus`, and `bodyContains` in the body when set.
        case http(path: String, port: Int?, expectedStatus: Int, bodyContains: String?)
        /// A command run with placeholders filled in; exit status 0 means healthy.
        case command([String])
    }

    public var probe: Probe
    /// Time between the starts of two probes. Default 1 s.
    public var interval: Duration
    /// A probe not finished after this long counts as failed. Default 800 ms.
    public var timeout: Duration
    /// Consecutive successes that make an instance healthy. Default 2.
    public var rise: Int
    /// Consecutive failures that make an instance unhealthy. Default 2.
    public var fall: Int

    public init(
        probe: Probe,
        interval: Duration = .seconds(1),
        timeout: Duration = .milliseconds(800),
        rise: Int = 2,
        fall: Int = 2
    ) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
    }

    /// The longest time a dead instance can still be reported healthy: `fall` probes, each
    /// started one interval apart and each allowed its full timeout.
    public var worstCaseDetectionTime: Duration {
        interval * (fall - 1) + max(interval, timeout) + timeout
    }
}
