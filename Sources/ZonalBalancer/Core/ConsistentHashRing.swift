/// Source-IP (or any key) hashing onto a ring of virtual points, so that a server leaving moves
/// only the keys that were on it, and a weight-2 server gets about twice the keys.
///
/// The hash is FNV-1a with a final mix, not Swift's `Hasher`, which is seeded per process:
/// every balancer instance must send one client to the same server.
public struct ConsistentHashRing: Sendable {
    /// Virtual points per unit of weight. Default 160, as in ketama.
    public let pointsPerWeight: Int
    private var points: [(hash: UInt64, backend: Backend)] = []

    public init(backends: [Backend], pointsPerWeight: Int = 160) {
        self.pointsPerWeight = pointsPerWeight
        for backend in backends where backend.weight > 0 {
            for replica in 0..<(backend.weight * pointsPerWeight) {
                points.append((Self.hash("\(backend.id)#\(replica)"), backend))
            }
        }
        points.sort { $0.hash < $1.hash }
    }

    public var isEmpty: Bool { points.isEmpty }

    /// The server owning `key`: the first point at or after the key's hash, wrapping around.
    public func backend(for key: String) -> Backend? {
        guard !points.isEmpty else { return nil }
        let target = Self.hash(key)
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].hash < target { low = middle + 1 } else { high = middle }
        }
        return points[low == points.count ? 0 : low].backend
    }

    /// A stable 64-bit hash (FNV-1a, then a SplitMix64 finaliser for an even spread).
    public static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
