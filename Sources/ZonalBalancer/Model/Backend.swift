import ZonalCore

/// One server of a pool: where it listens, which zone it is in, and how much traffic it takes.
public struct Backend: Sendable, Hashable, Identifiable, CustomStringConvertible {
    /// Stable name, `host:port` unless configured otherwise; persistence and hashing use it.
    public var id: String
    public var host: String
    public var port: Int
    public var zone: String
    /// Relative share of new traffic; 0 drains the server (no new requests or connections).
    public var weight: Int

    public init(id: String? = nil, host: String, port: Int, zone: String, weight: Int = 1) {
        self.id = id ?? IPAddressText.hostPort(host, port)
        self.host = host
        self.port = port
        self.zone = zone
        self.weight = weight
    }

    public var description: String { "\(id) (\(zone), weight \(weight))" }
}
