/// One zone's records, indexed for answering: every owner name and every name between an
/// owner and the apex (empty non-terminals, RFC 8020) is a node, so "no such name" and "no
/// such type" are one lookup apart. Health-checked names are nodes whose addresses come from
/// a ``RouteAnswer`` chosen per client.
public struct Zone: Sendable {
    public let origin: DNSName
    public let soa: RecordData.SOA
    /// The TTL of the SOA record itself.
    public let soaTTL: UInt32
    /// Every record, the SOA first, in the order given: what AXFR sends.
    public let records: [ResourceRecord]
    let nodes: [DNSName: Node]
    /// Health-checked names and their current answers.
    public let routes: [DNSName: RouteAnswer]
    let hasDelegations: Bool

    struct Node: Sendable {
        var rrsets: [RecordType: [ResourceRecord]] = [:]
        /// Names below the apex with NS records: the zone stops here (RFC 1034 §4.2.1).
        var isDelegation = false
    }

    /// Indexes `records` (which must hold the SOA at `origin`) with `routes` for the
    /// health-checked names; the routes' current addresses are part of ``records``.
    public init(origin: DNSName, records: [ResourceRecord], routes: [DNSName: RouteAnswer] = [:]) throws(ZoneError) {
        let soas = records.filter { $0.type == .soa }
        guard soas.count == 1, let soaRecord = soas.first, case .soa(let soa) = soaRecord.data else {
            throw .soa(origin: origin, found: soas.count)
        }
        guard soaRecord.name == origin else { throw .soa(origin: origin, found: 0) }
        var nodes: [DNSName: Node] = [origin: Node()]
        var ordered = [soaRecord]
        for record in records where record.type != .soa {
            guard record.name.isSubdomain(of: origin) else { throw .outOfZone(record.name, origin: origin) }
            ordered.append(record)
        }
        for (name, route) in routes.sorted(by: { $0.key.description < $1.key.description }) {
            guard name.isSubdomain(of: origin) else { throw .outOfZone(name, origin: origin) }
            ordered += route.currentRecords(owner: name)
        }
        for record in ordered {
            nodes[record.name, default: Node()].rrsets[record.type, default: []].append(record)
            var ancestor = record.name.parent
            while let name = ancestor, name != origin, name.isSubdomain(of: origin), nodes[name] == nil {
                nodes[name] = Node()
                ancestor = name.parent
            }
        }
        for name in routes.keys where nodes[name] == nil { nodes[name] = Node() }
        var hasDelegations = false
        for (name, node) in nodes {
            if let cname = node.rrsets[.cname] {
                guard cname.count == 1, node.rrsets.count == 1 else { throw .cnameAndOtherData(name) }
                guard routes[name] == nil else { throw .cnameAndOtherData(name) }
            }
            if name != origin, node.rrsets[.ns] != nil {
                nodes[name]?.isDelegation = true
                hasDelegations = true
            }
        }
        self.origin = origin
        self.soa = soa
        soaTTL = soaRecord.ttl
        self.records = ordered
        self.nodes = nodes
        self.routes = routes
        self.hasDelegations = hasDelegations
    }

    /// The SOA as a record, for authority sections and transfers.
    public var soaRecord: ResourceRecord {
        ResourceRecord(name: origin, ttl: soaTTL, data: .soa(soa))
    }

    /// The TTL of negative answers: the smaller of the SOA's TTL and its minimum (RFC 2308 §5).
    var negativeTTL: UInt32 { min(soaTTL, soa.minimum) }

    /// The highest delegation point at or above `name` (below the apex), if any.
    func delegation(covering name: DNSName) -> DNSName? {
        guard hasDelegations else { return nil }
        var found: DNSName?
        var current: DNSName? = name
        while let candidate = current, candidate != origin {
            if nodes[candidate]?.isDelegation == true { found = candidate }
            current = candidate.parent
        }
        return found
    }

    /// The longest existing ancestor of a name that has no node (RFC 4592's closest encloser).
    func closestEncloser(of name: DNSName) -> DNSName {
        var current = name.parent
        while let candidate = current, candidate != origin {
            if nodes[candidate] != nil { return candidate }
            current = candidate.parent
        }
        return origin
    }
}

/// Why records cannot make a zone.
public enum ZoneError: Error, Hashable, CustomStringConvertible {
    case soa(origin: DNSName, found: Int)
    case outOfZone(DNSName, origin: DNSName)
    case cnameAndOtherData(DNSName)

    public var description: String {
        switch self {
        case .soa(let origin, let found):
            "zone \(origin) needs exactly one SOA record, at its apex \(origin); found \(found == 0 ? "none there" : "\(found)")"
        case .outOfZone(let name, let origin): "\(name) is outside zone \(origin)"
        case .cnameAndOtherData(let name): "\(name) has a CNAME and other data (or a second CNAME); a CNAME must stand alone (RFC 1034 §3.6.2)"
        }
    }
}
