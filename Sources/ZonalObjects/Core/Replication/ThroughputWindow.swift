/// Bytes moved per second over a sliding window of whole seconds: what the replication status
/// shows as a rule's throughput. Pure: the caller says what time it is.
public struct ThroughputWindow: Sendable {
    public let seconds: Int
    private var buckets: [Int64]
    private var newestSecond: Int64?

    public init(seconds: Int = 10) {
        self.seconds = max(1, seconds)
        buckets = Array(repeating: 0, count: self.seconds)
    }

    /// Counts `bytes` moved in second `second` (seconds of any monotonic clock).
    public mutating func add(_ bytes: Int64, at second: Int64) {
        advance(to: second)
        buckets[slot(second)] += bytes
    }

    /// Bytes per second over the window that ends with `second`.
    public mutating func rate(at second: Int64) -> Double {
        advance(to: second)
        return Double(buckets.reduce(0, +)) / Double(seconds)
    }

    private mutating func advance(to second: Int64) {
        guard let newest = newestSecond else {
            newestSecond = second
            return
        }
        guard second > newest else { return }
        let steps = min(Int64(seconds), second - newest)
        for step in 1...steps {
            buckets[slot(newest + step)] = 0
        }
        newestSecond = second
    }

    private func slot(_ second: Int64) -> Int {
        let count = Int64(seconds)
        return Int((second % count + count) % count)
    }
}
