/// NOTIFY (RFC 1996): a primary's word to its secondaries that a zone changed, carrying the
/// new SOA so a secondary already that far can skip the transfer.
public enum NotifyMessage {
    public static func encode(id: UInt16, zone: DNSName, soa: RecordData.SOA) -> [UInt8] {
        var writer = WireWriter(limit: ResponseEncoder.classicUDPSize)
        writer.uint16(id)
        writer.uint16(UInt16(Opcode.notify.rawValue) << 11 | 0x0400)
        writer.uint16(1)
        writer.uint16(1)
        writer.uint16(0)
        writer.uint16(0)
        writer.name(zone)
        writer.uint16(RecordType.soa.rawValue)
        writer.uint16(RecordClass.internet.rawValue)
        writer.record(ResourceRecord(name: zone, ttl: 0, data: .soa(soa)))
        return writer.bytes
    }

    /// Whether `bytes` answer the NOTIFY with this ID: a response with opcode NOTIFY.
    public static func isAcknowledgement(_ bytes: [UInt8], id: UInt16) -> Bool {
        guard bytes.count >= DNSQuery.headerLength else { return false }
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id && flags & 0x8000 != 0 && (flags >> 11) & 0x0F == UInt16(Opcode.notify.rawValue)
    }
}
