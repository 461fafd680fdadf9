/// The last `capacity` ids remembered, the oldest forgotten first: what a replicator has sent
/// lately, so the same version seen in the feeds of several storage nodes goes out once.
public struct RecentIDs: Sendable {
    public let capacity: Int
    private var members: Set<String> = []
    private var order: [String] = []
    private var oldest = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public func contains(_ id: String) -> Bool {
        members.contains(id)
    }

    public var count: Int { members.count }

    public mutating func insert(_ id: String) {
        guard members.insert(id).inserted else { return }
        if order.count < capacity {
            order.append(id)
            return
        }
        members.remove(order[oldest])
        order[oldest] = id
        oldest = (oldest + 1) % capacity
    }
}
