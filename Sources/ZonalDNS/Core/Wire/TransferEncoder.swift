/// Zone transfers as a sequence of TCP messages: AXFR (RFC 5936) is the SOA, every record, the
/// SOA again; IXFR (RFC 1995) is the current SOA, then per difference the old SOA, what went,
/// the new SOA, what came, and the current SOA to close — or the whole zone when the journal
/// does not reach back to the client's serial.
public enum TransferEncoder {
    /// Bytes per message before a new one starts; well under the 65,535 a TCP message allows.
    static let messageSize = 16 * 1024

    public static func axfr(_ zone: Zone, to query: DNSQuery) -> [[UInt8]] {
        let records = [zone.soaRecord] + zone.records.filter { $0.type != .soa } + [zone.soaRecord]
        return messages(records, to: query)
    }

    public static func ixfr(_ zone: Zone, journal: ZoneJournal, to query: DNSQuery) -> [[UInt8]] {
        guard let serial = query.clientSerial else { return axfr(zone, to: query) }
        if serial == zone.soa.serial || RecordData.SOA.isNewer(serial, than: zone.soa.serial) {
            return messages([zone.soaRecord], to: query)
        }
        guard let differences = journal.differences(since: serial, to: zone.soa.serial) else { return axfr(zone, to: query) }
        var records = [zone.soaRecord]
        for difference in differences {
            records.append(ResourceRecord(name: zone.origin, ttl: zone.soaTTL, data: .soa(difference.from)))
            records += difference.removed
            records.append(ResourceRecord(name: zone.origin, ttl: zone.soaTTL, data: .soa(difference.to)))
            records += difference.added
        }
        records.append(zone.soaRecord)
        return messages(records, to: query)
    }

    /// Splits records into messages of about ``messageSize``; only the first carries the question.
    private static func messages(_ records: [ResourceRecord], to query: DNSQuery) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var index = 0
        while index < records.count || messages.isEmpty {
            var writer = WireWriter(limit: 65535, capacity: messageSize + 1024)
            writer.uint16(query.id)
            writer.uint16(0x8000 | 0x0400)
            writer.uint16(messages.isEmpty ? 1 : 0)
            writer.uint16(0)
            writer.uint16(0)
            writer.uint16(0)
            if messages.isEmpty {
                writer.append(query.questionBytes)
                writer.registerName(query.question.name, at: DNSQuery.headerLength)
            }
            var count = 0
            while index < records.count, writer.bytes.count < messageSize, writer.record(records[index]) {
                index += 1
                count += 1
            }
            if count == 0, index < records.count {
                // A single record larger than a message cannot be sent: end with SERVFAIL.
                return messages + [ResponseEncoder.refusal(id: query.id, opcode: query.opcode, code: .serverFailure, question: query.questionBytes)]
            }
            writer.setUInt16(UInt16(count), at: 6)
            messages.append(writer.bytes)
        }
        return messages
    }
}
