/// Checks of a `dns` service that need the whole topology: zones and records well named,
/// every pool resolving to addresses with a way to check them.
extension Checker {
    mutating func dns(_ spec: DNSSpec, of service: Topology.Service) {
        let path = "services.\(service.name).dns"
        reportDuplicates(spec.zones.map { Self.absolute($0.name) }, kind: "zone", pathPrefix: "\(path).zones")
        reportDuplicates(spec.records.map { Self.absolute($0.name) }, kind: "record", pathPrefix: "\(path).records")
        if spec.zones.isEmpty { report(path, "service \(service.name) of kind `dns` serves no zone; list at least one under `zones`") }
        for zone in spec.zones {
            for address in zone.transferTo where !IPAddressText.isValid(address) {
                report("\(path).zones.\(zone.name)", "`transfer_to` of zone \(zone.name) lists \"\(address)\", which is not an IPv4 or IPv6 address")
            }
            for target in zone.notify where IPAddressText.parseHostPort(target) == nil {
                report("\(path).zones.\(zone.name)", "`notify` of zone \(zone.name) lists \"\(target)\"; write HOST:PORT, such as 127.0.0.1:53")
            }
        }
        for record in spec.records { dnsRecord(record, of: service, zones: spec.zones, path: "\(path).records.\(record.name)") }
    }

    private mutating func dnsRecord(_ record: DNSSpec.RecordSpec, of service: Topology.Service, zones: [DNSSpec.ZoneSpec], path: String) {
        let name = Self.absolute(record.name)
        if !zones.contains(where: { name == Self.absolute($0.name) || name.hasSuffix("." + Self.absolute($0.name)) }) {
            report(path, "record \(record.name) of service \(service.name) is in none of its zones (\(zones.map(\.name).joined(separator: ", ")))")
        }
        if record.pools.isEmpty { report(path, "record \(record.name) has no pools; give at least one") }
        reportDuplicates(record.pools.map(\.name), kind: "pool", pathPrefix: "\(path).pools")
        if record.ttl > .seconds(86400) { report(path, "`ttl` of record \(record.name) is over a day; failover needs answers that expire") }
        let regions = Set(topology.regions.map(\.name))
        let zoneNames = Set(topology.zoneNames)
        for pool in record.pools {
            let poolPath = "\(path).pools.\(pool.name)"
            if let serviceName = pool.service {
                guard topology.services.contains(where: { $0.name == serviceName }) else {
                    report(poolPath, "pool \(pool.name) of record \(record.name) names service \(serviceName), which is not declared")
                    continue
                }
                if let region = pool.region, !regions.contains(region) {
                    report(
                        poolPath,
                        "pool \(pool.name) of record \(record.name) names region \(region), which is not declared\(suggestion(region, among: regions))")
                }
                if let zone = pool.zone, !zoneNames.contains(zone) {
                    report(
                        poolPath, "pool \(pool.name) of record \(record.name) names zone \(zone), which is not declared\(suggestion(zone, among: zoneNames))")
                }
                if topology.members(of: pool, health: record.health).isEmpty {
                    report(poolPath, "pool \(pool.name) of record \(record.name) has no address: service \(serviceName) has no instance in its region or zone")
                }
            }
            for member in pool.addresses where !IPAddressText.isValid(member.address) {
                report(poolPath, "pool \(pool.name) of record \(record.name) lists \"\(member.address)\", which is not an IPv4 or IPv6 address")
            }
            if !pool.addresses.isEmpty, !Self.hasPort(record.health) {
                report(
                    path,
                    "record \(record.name) lists addresses, which need a `health` check with a port, such as health: { tcp: { port: 80 } }")
            }
        }
        for subnet in record.subnets {
            if !record.pools.contains(where: { $0.name == subnet.pool }) {
                report(
                    "\(path).subnets.\(subnet.prefix)", "subnet \(subnet.prefix) of record \(record.name) names pool \(subnet.pool), which the record has not")
            }
            if !Self.isPrefix(subnet.prefix) {
                report("\(path).subnets.\(subnet.prefix)", "subnet \"\(subnet.prefix)\" of record \(record.name) is not an address prefix such as 10.1.0.0/16")
            }
        }
        if case .fixed(let addresses) = record.whenAllDown {
            for address in addresses where !IPAddressText.isValid(address) {
                report("\(path).when_all_down", "`when_all_down` of record \(record.name) lists \"\(address)\", which is not an IPv4 or IPv6 address")
            }
        }
    }

    /// A name compared as DNS does: lowercased, without the final dot.
    static func absolute(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    private static func hasPort(_ health: HealthCheckSpec?) -> Bool {
        switch health?.probe {
        case .tcp(.some), .http(_, .some, _, _), .command: true
        default: false
        }
    }

    private static func isPrefix(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), IPAddressText.isValid(String(parts[0])) else { return false }
        guard parts.count == 2 else { return true }
        let maximum = parts[0].contains(":") ? 128 : 32
        return Int(parts[1]).map { (0...maximum).contains($0) } ?? false
    }
}
