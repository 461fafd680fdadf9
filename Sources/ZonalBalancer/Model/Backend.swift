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

    /// What a persistence cookie carries to name this server: a hash of its id, so the cookie
    /// tells a client nothing about the network behind the balancer, and every balancer
    /// instance reads it the same way without sharing any state.
    public var persistenceToken: String {
        let hash = ConsistentHashRing.hash("zonal-persistence:\(id)")
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
