import ZonalCore

/// The answer of one health-checked name as of now: its pools in failover order with each
/// address's health, the client-subnet table, and what to say when nothing is healthy.
/// Immutable and cheap to consult, so the server picks per query without locks; the
/// ``RecordRouting`` core makes a new one on every health change.
public struct RouteAnswer: Sendable, Hashable {
    public var ttl: UInt32
    public var pools: [Pool]
    /// Clients inside a prefix prefer that pool; the longest matching prefix wins.
    public var subnets: [SubnetRoute]
    public var whenAllDown: AllDown

    public struct Member: Sendable, Hashable {
        public var address: [UInt8]
        /// Answer share within a weighted pool; 0 drains the address. 1 elsewhere.
        public var weight: Int
        /// Unknown (not yet checked) counts as healthy: the first answer is the full one.
        public var healthy: Bool

        public init(address: [UInt8], weight: Int = 1, healthy: Bool = true) {
            self.address = address
            self.weight = weight
            self.healthy = healthy
        }

        var isAnswered: Bool { healthy && weight > 0 }
    }

    public struct Pool: Sendable, Hashable {
        public var name: String
        public var members: [Member]
        /// Answer one address per query, chosen in proportion to weights, instead of all.
        public var weighted: Bool

        public init(name: String, members: [Member], weighted: Bool = false) {
            self.name = name
            self.members = members
            self.weighted = weighted
        }

        func answered(_ family: AddressFamily) -> [Member] {
            members.filter { $0.isAnswered && family.matches($0.address) }
        }
    }

    public struct SubnetRoute: Sendable, Hashable {
        public var prefix: AddressPrefix
        public var pool: Int

        public init(prefix: AddressPrefix, pool: Int) {
            self.prefix = prefix
            self.pool = pool
        }
    }

    /// The answer when no pool has a healthy address.
    public enum AllDown: Sendable, Hashable {
        /// Every address of every pool: better a chance than nothing (the default).
        case all
        /// No address: NODATA, so clients fail fast.
        case none
        /// These addresses (a maintenance page, say).
        case fixed([[UInt8]])
    }

    public enum AddressFamily: Sendable {
        case v4, v6

        init?(_ type: RecordType) {
            switch type {
            case .a: self = .v4
            case .aaaa: self = .v6
            default: return nil
            }
        }

        func matches(_ address: [UInt8]) -> Bool { address.count == (self == .v4 ? 4 : 16) }
    }

    public init(ttl: UInt32, pools: [Pool], subnets: [SubnetRoute] = [], whenAllDown: AllDown = .all) {
        self.ttl = ttl
        self.pools = pools
        self.subnets = subnets
        self.whenAllDown = whenAllDown
    }

    /// What one client gets for one address family.
    public struct Choice: Sendable, Hashable {
        public var addresses: [[UInt8]]
        /// The pool answering; nil when none is healthy.
        public var pool: String?
        /// For EDNS Client Subnet: the prefix length the answer holds for (the matched table
        /// entry's), 0 when the client's address played no part.
        public var scope: Int
    }

    /// The addresses for a client at `client` (from ECS or the source address; nil when not
    /// known): the first pool of its preference order (its subnet's pool, then the failover
    /// order) with a healthy address of the family. `selector` picks within weighted pools; any
    /// well-mixed per-query value gives shares in proportion to weights.
    public func choose(_ family: AddressFamily, client: [UInt8]? = nil, clientPrefixLength: Int? = nil, selector: UInt64 = 0) -> Choice {
        var order = Array(pools.indices)
        var scope = 0
        if let client, let route = subnetRoute(for: client, prefixLength: clientPrefixLength) {
            order.removeAll { $0 == route.pool }
            order.insert(route.pool, at: 0)
            scope = route.prefix.length
        } else if client != nil, !subnets.isEmpty {
            scope = subnets.filter { $0.prefix.address.count == client?.count }.map(\.prefix.length).max() ?? 0
        }
        guard let (pool, answered) = firstAnswering(family, order: order) else {
            return Choice(addresses: allDownAddresses(family), pool: nil, scope: scope)
        }
        let addresses = pool.weighted ? [Self.pick(answered, selector: selector).address] : answered.map(\.address)
        return Choice(addresses: addresses, pool: pool.name, scope: scope)
    }

    private func firstAnswering(_ family: AddressFamily, order: [Int]) -> (Pool, [Member])? {
        for index in order {
            let answered = pools[index].answered(family)
            if !answered.isEmpty { return (pools[index], answered) }
        }
        return nil
    }

    private func allDownAddresses(_ family: AddressFamily) -> [[UInt8]] {
        switch whenAllDown {
        case .all: pools.flatMap(\.members).map(\.address).filter(family.matches)
        case .none: []
        case .fixed(let addresses): addresses.filter(family.matches)
        }
    }

    /// Every address a client with no known address may get (all members of a weighted pool),
    /// and the pool they come from.
    func defaultAnswer(_ family: AddressFamily) -> (pool: String?, addresses: [[UInt8]]) {
        guard let (pool, answered) = firstAnswering(family, order: Array(pools.indices)) else { return (nil, allDownAddresses(family)) }
        return (pool.name, answered.map(\.address))
    }

    private func subnetRoute(for client: [UInt8], prefixLength: Int?) -> SubnetRoute? {
        subnets.filter { $0.prefix.contains(client, length: prefixLength) }.max { $0.prefix.length < $1.prefix.length }
    }

    /// A member chosen with probability weight / total weight, by `selector`.
    static func pick(_ members: [Member], selector: UInt64) -> Member {
        let total = UInt64(members.reduce(0) { $0 + $1.weight })
        var point = Self.mix(selector) % total
        for member in members {
            if point < UInt64(member.weight) { return member }
            point -= UInt64(member.weight)
        }
        return members[members.count - 1]
    }

    /// splitmix64's finaliser: spreads a query ID and port over the whole range.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The records a client with no known address gets, both families: what a zone transfer
    /// carries, so secondaries serve the current answer.
    func currentRecords(owner: DNSName) -> [ResourceRecord] {
        let v4 = defaultAnswer(.v4).addresses.map { ResourceRecord(name: owner, ttl: ttl, data: .a(RecordData.IPv4($0[0], $0[1], $0[2], $0[3]))) }
        let v6 = defaultAnswer(.v6).addresses.map { ResourceRecord(name: owner, ttl: ttl, data: .aaaa(RecordData.IPv6(validated: $0))) }
        return v4 + v6
    }

    /// The default answer in words: "pool east: 127.0.1.1, 127.0.2.1" or "no healthy address: …".
    public var summary: String {
        let v4 = defaultAnswer(.v4)
        let v6 = defaultAnswer(.v6)
        let addresses = (v4.addresses + v6.addresses).map(IPAddressText.text).joined(separator: ", ")
        guard let pool = v4.pool ?? v6.pool else {
            switch whenAllDown {
            case .all: return "no healthy address: answering every address (\(addresses))"
            case .none: return "no healthy address: answering none"
            case .fixed: return "no healthy address: answering the fallback (\(addresses))"
            }
        }
        return "pool \(pool): \(addresses)"
    }
}
