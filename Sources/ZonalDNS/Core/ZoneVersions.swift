/// Makes each new version of a zone from its written records (file or generated) and the
/// current answers of its health-checked names, with a serial secondaries can follow: the
/// same content keeps the serial; any change takes the next one (or the file's, when an
/// operator raised it further). A zone with health-checked names starts at no less than the
/// start time in seconds, so a restarted server is never behind the secondaries it feeds.
public enum ZoneVersions {
    /// The version after `previous` (nil at start), or `previous` itself when nothing changed.
    public static func next(
        after previous: Zone?, origin: DNSName, written: [ResourceRecord], routes: [DNSName: RouteAnswer], startSerial: UInt32
    ) throws(ZoneError) -> Zone {
        let candidate = try Zone(origin: origin, records: written, routes: routes)
        let writtenSerial = candidate.soa.serial
        guard let previous else {
            guard !routes.isEmpty, RecordData.SOA.isNewer(startSerial, than: writtenSerial) else { return candidate }
            return try Zone(origin: origin, records: withSerial(startSerial, written), routes: routes)
        }
        var unchangedSOA = candidate.soa
        unchangedSOA.serial = previous.soa.serial
        if unchangedSOA == previous.soa, candidate.soaTTL == previous.soaTTL, Self.content(of: candidate) == Self.content(of: previous) {
            return previous
        }
        let serial = RecordData.SOA.isNewer(writtenSerial, than: previous.soa.serial) ? writtenSerial : previous.soa.nextSerial
        return try Zone(origin: origin, records: withSerial(serial, written), routes: routes)
    }

    private static func content(of zone: Zone) -> Set<ResourceRecord> {
        Set(zone.records.filter { $0.type != .soa })
    }

    private static func withSerial(_ serial: UInt32, _ records: [ResourceRecord]) -> [ResourceRecord] {
        records.map { record in
            guard case .soa(var soa) = record.data else { return record }
            soa.serial = serial
            return ResourceRecord(name: record.name, recordClass: record.recordClass, ttl: record.ttl, data: .soa(soa))
        }
    }

    /// SOA and NS records for a zone without a file: the given name servers (with their
    /// addresses), `hostmaster` as the mailbox, timers suited to fast failover.
    public static func generated(origin: DNSName, nameServers: [(name: DNSName, address: [UInt8])], serial: UInt32) -> [ResourceRecord] {
        let primary = nameServers.first?.name ?? origin
        let mailbox = (try? DNSName(parsing: "hostmaster", origin: origin)) ?? origin
        var records = [
            ResourceRecord(
                name: origin, ttl: 3600,
                data: .soa(RecordData.SOA(primary: primary, mailbox: mailbox, serial: serial, refresh: 60, retry: 10, expire: 604_800, minimum: 30)))
        ]
        for server in nameServers {
            records.append(ResourceRecord(name: origin, ttl: 3600, data: .ns(server.name)))
        }
        for server in nameServers where server.name.isSubdomain(of: origin) {
            let address = server.address
            let data: RecordData =
                address.count == 4 ? .a(RecordData.IPv4(address[0], address[1], address[2], address[3])) : .aaaa(RecordData.IPv6(validated: address))
            records.append(ResourceRecord(name: server.name, ttl: 3600, data: data))
        }
        return records
    }
}
