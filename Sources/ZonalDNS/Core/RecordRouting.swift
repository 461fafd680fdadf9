import ZonalCore

/// The decision core of failover records: health verdicts of addresses go in, the names'
/// answers and every change of an answer, with its cause, come out. Pure: the health checks
/// (with their rise and fall thresholds) run outside and feed it; so a test can drive it with
/// any schedule of verdicts and read the same sentences an operator reads.
public struct RecordRouting: Sendable {
    public private(set) var answers: [DNSName: RouteAnswer]

    /// A member of a pool of a name: what a health check reports about.
    public struct MemberID: Hashable, Sendable, CustomStringConvertible {
        public var name: DNSName
        public var pool: Int
        public var member: Int

        public init(name: DNSName, pool: Int, member: Int) {
            self.name = name
            self.pool = pool
            self.member = member
        }

        public var description: String { "\(name) pool \(pool) member \(member)" }
    }

    /// A name's default answer changed.
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        public var name: DNSName
        public var from: String
        public var to: String
        public var cause: String

        public var description: String { "answer of \(name) changed from \(from) to \(to): \(cause)" }
    }

    public init(answers: [DNSName: RouteAnswer]) {
        self.answers = answers
    }

    /// Records a verdict; returns the change of the name's answer it causes, if any.
    public mutating func setHealth(_ id: MemberID, healthy: Bool, cause: String) -> Change? {
        guard var answer = answers[id.name], answer.pools.indices.contains(id.pool), answer.pools[id.pool].members.indices.contains(id.member)
        else { return nil }
        guard answer.pools[id.pool].members[id.member].healthy != healthy else { return nil }
        let before = answer.summary
        answer.pools[id.pool].members[id.member].healthy = healthy
        answers[id.name] = answer
        let after = answer.summary
        guard before != after else { return nil }
        let member = answer.pools[id.pool].members[id.member]
        return Change(
            name: id.name, from: before, to: after,
            cause: "\(IPAddressText.text(member.address)) of pool \(answer.pools[id.pool].name) is \(healthy ? "healthy" : "down") (\(cause))")
    }

    /// Takes the new definitions of the names (after a reload), keeping the health known for
    /// every address that is still in the same pool.
    public mutating func replaceDefinitions(_ definitions: [DNSName: RouteAnswer]) {
        var next = definitions
        for (name, var answer) in next {
            guard let old = answers[name] else { continue }
            for poolIndex in answer.pools.indices {
                guard let oldPool = old.pools.first(where: { $0.name == answer.pools[poolIndex].name }) else { continue }
                for memberIndex in answer.pools[poolIndex].members.indices {
                    let address = answer.pools[poolIndex].members[memberIndex].address
                    if let known = oldPool.members.first(where: { $0.address == address }) {
                        answer.pools[poolIndex].members[memberIndex].healthy = known.healthy
                    }
                }
            }
            next[name] = answer
        }
        answers = next
    }
}
