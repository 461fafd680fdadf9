/// The zones a server is authoritative for, and the answer to any query about them (RFC 1034
/// §4.3.2 without recursion): referrals at delegations with glue, CNAME chains followed inside
/// our zones, wildcards (RFC 4592), NXDOMAIN and NODATA with the SOA for negative caching
/// (RFC 2308), REFUSED for names that are not ours. Pure: one immutable value answers every
/// query until the next one replaces it.
public struct Authority: Sendable {
    /// Longest origin first, so the first zone containing a name is the closest.
    public let zones: [Zone]

    public init(zones: [Zone]) {
        self.zones = zones.sorted { $0.origin.labelCount > $1.origin.labelCount }
    }

    public func zone(containing name: DNSName) -> Zone? {
        zones.first { name.isSubdomain(of: $0.origin) }
    }

    public func zone(named origin: DNSName) -> Zone? {
        zones.first { $0.origin == origin }
    }

    /// Where a query comes from: the address health-checked names route by when the query
    /// carries no client subnet, and the port that mixes into weighted choices.
    public struct Client: Sendable {
        public var address: [UInt8]
        public var port: Int

        public init(address: [UInt8], port: Int) {
            self.address = address
            self.port = port
        }
    }

    /// The sections of an answer before encoding.
    public struct Answer: Sendable {
        public var code: ResponseCode = .noError
        public var authoritative = true
        public var answers: [ResourceRecord] = []
        public var authority: [ResourceRecord] = []
        public var additional: [ResourceRecord] = []
        /// The scope of an EDNS Client Subnet answer; nil when the answer does not depend on it.
        public var subnetScope: Int?
        /// Whether a health-checked name was consulted, whose answer depends on the client
        /// and on the moment: such an answer is never reused for another query.
        public var dependsOnClient = false
    }

    /// CNAMEs followed in one answer at most, so a loop in the data ends.
    static let maximumChain = 8

    public func answer(_ question: DNSQuery.Question, client: Client? = nil, subnet: ClientSubnet? = nil, queryID: UInt16 = 0) -> Answer {
        var answer = Answer()
        guard question.recordClass == .internet || question.recordClass == .any, let first = zone(containing: question.name) else {
            answer.code = .refused
            answer.authoritative = false
            return answer
        }
        var zone = first
        var name = question.name
        var followed: [DNSName] = []
        for _ in 0...Self.maximumChain {
            if let cut = zone.delegation(covering: name) {
                referral(to: cut, in: zone, into: &answer)
                return answer
            }
            let owner: DNSName
            let node: Zone.Node
            if let exact = zone.nodes[name] {
                owner = name
                node = exact
            } else if let wildcard = zone.closestEncloser(of: name).wildcardChild, let synthesized = zone.nodes[wildcard] {
                owner = wildcard
                node = synthesized
            } else {
                if answer.answers.isEmpty { answer.code = .nameError }
                answer.authority = [negativeSOA(zone)]
                return answer
            }
            if question.type != .cname, let cname = node.rrsets[.cname]?.first, case .cname(let target) = cname.data {
                answer.answers.append(renamed(cname, to: name))
                guard let next = self.zone(containing: target) else { return answer }
                followed.append(name)
                guard !followed.contains(target) else { break }
                zone = next
                name = target
                continue
            }
            let found = records(of: node, owner: owner, type: question.type, zone: zone, client: client, subnet: subnet, queryID: queryID, answer: &answer)
            if found.isEmpty {
                answer.authority = [negativeSOA(zone)]
            } else {
                answer.answers += found.map { renamed($0, to: name) }
                addAdditional(for: found, into: &answer)
            }
            return answer
        }
        answer.code = .serverFailure
        return answer
    }

    /// The records of `type` at a node (every type for ANY), a health-checked name's chosen
    /// addresses in place of its A and AAAA records.
    private func records(
        of node: Zone.Node, owner: DNSName, type: RecordType, zone: Zone, client: Client?, subnet: ClientSubnet?, queryID: UInt16, answer: inout Answer
    ) -> [ResourceRecord] {
        if let route = zone.routes[owner] {
            answer.dependsOnClient = true
            let families: [RouteAnswer.AddressFamily] = type == .any ? [.v4, .v6] : RouteAnswer.AddressFamily(type).map { [$0] } ?? []
            if !families.isEmpty || type == .any {
                var records: [ResourceRecord] = []
                for family in families {
                    let selector = UInt64(queryID) << 16 | UInt64(UInt16(truncatingIfNeeded: client?.port ?? 0))
                    let choice: RouteAnswer.Choice
                    if let subnet {
                        choice = route.choose(family, client: subnet.source.address, clientPrefixLength: subnet.source.length, selector: selector)
                        answer.subnetScope = min(choice.scope, subnet.source.length)
                    } else {
                        choice = route.choose(family, client: client?.address, selector: selector)
                    }
                    records += choice.addresses.map { address in
                        ResourceRecord(
                            name: owner, ttl: route.ttl,
                            data: address.count == 4
                                ? .a(RecordData.IPv4(address[0], address[1], address[2], address[3])) : .aaaa(RecordData.IPv6(validated: address)))
                    }
                }
                if type != .any { return records }
                return records + node.rrsets.filter { $0.key != .a && $0.key != .aaaa }.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap(\.value)
            }
        }
        if type == .any { return node.rrsets.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap(\.value) }
        return node.rrsets[type] ?? []
    }

    private func referral(to cut: DNSName, in zone: Zone, into answer: inout Answer) {
        answer.authoritative = false
        let servers = zone.nodes[cut]?.rrsets[.ns] ?? []
        answer.authority = servers
        for server in servers {
            guard case .ns(let target) = server.data, target.isSubdomain(of: zone.origin), let node = zone.nodes[target] else { continue }
            answer.additional += (node.rrsets[.a] ?? []) + (node.rrsets[.aaaa] ?? [])
        }
    }

    /// Addresses of the names NS, MX and SRV answers point to, when they are ours.
    private func addAdditional(for records: [ResourceRecord], into answer: inout Answer) {
        for record in records {
            guard let target = record.data.additionalTarget, let zone = zone(containing: target), let node = zone.nodes[target] else { continue }
            answer.additional += (node.rrsets[.a] ?? []) + (node.rrsets[.aaaa] ?? [])
        }
    }

    private func negativeSOA(_ zone: Zone) -> ResourceRecord {
        ResourceRecord(name: zone.origin, ttl: zone.negativeTTL, data: .soa(zone.soa))
    }

    private func renamed(_ record: ResourceRecord, to owner: DNSName) -> ResourceRecord {
        guard record.name != owner || record.name.isWildcard else { return record }
        var copy = record
        copy.name = owner
        return copy
    }
}
