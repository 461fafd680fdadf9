/// Encodes answers: the query's ID, flags and question as received, the sections in order,
/// and an OPT record when the query had one. What does not fit the client's size is cut at a
/// whole record with TC set, so the client asks again over TCP (RFC 2181 §9); missing
/// additional records alone do not set TC.
public enum ResponseEncoder {
    /// The largest UDP answer sent whatever the client offers: the size that avoids IP
    /// fragmentation on every path (DNS Flag Day 2020), also Knot's and BIND's default.
    public static let maximumUDPSize = 1232
    /// The UDP size of queries without EDNS (RFC 1035 §4.2.1).
    public static let classicUDPSize = 512

    public enum Transport: Sendable {
        case udp
        case tcp
    }

    /// The size an answer to `query` may take over `transport`.
    public static func limit(for query: DNSQuery, over transport: Transport) -> Int {
        switch transport {
        case .tcp: return 65535
        case .udp: return query.edns.map { min(max($0.udpSize, classicUDPSize), maximumUDPSize) } ?? classicUDPSize
        }
    }

    public static func encode(_ answer: Authority.Answer, to query: DNSQuery, over transport: Transport) -> [UInt8] {
        let limit = limit(for: query, over: transport)
        let subnet = query.edns?.clientSubnet.map { ClientSubnet(source: $0.source, scopeLength: answer.subnetScope ?? 0) }
        let optLength = query.edns == nil ? 0 : 11 + (subnet?.wireLength ?? 0)
        var writer = WireWriter(limit: limit - optLength)
        writeHeader(&writer, id: query.id, opcode: query.opcode, code: answer.code, authoritative: answer.authoritative, query: query)
        writer.append(query.questionBytes)
        writer.registerName(query.question.name, at: DNSQuery.headerLength)
        var truncated = false
        var counts = [0, 0, 0]
        for (section, records) in [answer.answers, answer.authority, answer.additional].enumerated() {
            for record in records {
                guard writer.record(record) else {
                    truncated = truncated || section < 2
                    break
                }
                counts[section] += 1
            }
            if truncated { break }
        }
        writer.setUInt16(UInt16(counts[0]), at: 6)
        writer.setUInt16(UInt16(counts[1]), at: 8)
        writer.setUInt16(UInt16(counts[2] + (query.edns == nil ? 0 : 1)), at: 10)
        if truncated {
            writer.setUInt16(flags(query: query, opcode: query.opcode, code: answer.code, authoritative: answer.authoritative, truncated: true), at: 2)
        }
        if let edns = query.edns { writeOPT(&writer, code: answer.code, dnssecOK: edns.dnssecOK, subnet: subnet) }
        return writer.bytes
    }

    /// FORMERR, NOTIMP or REFUSED to a message that could not be answered normally.
    public static func refusal(id: UInt16, opcode: Opcode, code: ResponseCode, question: ArraySlice<UInt8>?) -> [UInt8] {
        var writer = WireWriter(limit: classicUDPSize)
        writeHeader(&writer, id: id, opcode: opcode, code: code, authoritative: false, query: nil)
        if let question, question.count + DNSQuery.headerLength <= classicUDPSize {
            writer.append(question)
            writer.setUInt16(1, at: 4)
        }
        return writer.bytes
    }

    /// The answer to a query whose EDNS version is not 0 (RFC 6891 §6.1.3).
    public static func badVersion(to query: DNSQuery) -> [UInt8] {
        var writer = WireWriter(limit: classicUDPSize)
        writeHeader(&writer, id: query.id, opcode: query.opcode, code: .badVersion, authoritative: false, query: query)
        writer.append(query.questionBytes)
        writer.setUInt16(1, at: 10)
        writeOPT(&writer, code: .badVersion, dnssecOK: false, subnet: nil)
        return writer.bytes
    }

    private static func writeHeader(_ writer: inout WireWriter, id: UInt16, opcode: Opcode, code: ResponseCode, authoritative: Bool, query: DNSQuery?) {
        writer.uint16(id)
        writer.uint16(flags(query: query, opcode: opcode, code: code, authoritative: authoritative, truncated: false))
        writer.uint16(query == nil ? 0 : 1)
        writer.uint16(0)
        writer.uint16(0)
        writer.uint16(0)
    }

    private static func flags(query: DNSQuery?, opcode: Opcode, code: ResponseCode, authoritative: Bool, truncated: Bool) -> UInt16 {
        var flags: UInt16 = 0x8000 | UInt16(opcode.rawValue & 0x0F) << 11
        if authoritative { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if query?.recursionDesired == true { flags |= 0x0100 }
        if query?.checkingDisabled == true { flags |= 0x0010 }
        return flags | (code.rawValue & 0x0F)
    }

    /// Our OPT record: our UDP size, the upper bits of an extended code, and the client subnet
    /// with our scope.
    private static func writeOPT(_ writer: inout WireWriter, code: ResponseCode, dnssecOK: Bool, subnet: ClientSubnet?) {
        writer.uint8(0)
        writer.uint16(RecordType.opt.rawValue)
        writer.uint16(UInt16(maximumUDPSize))
        writer.uint32(UInt32(code.rawValue >> 4) << 24 | (dnssecOK ? 0x8000 : 0))
        let lengthOffset = writer.bytes.count
        writer.uint16(0)
        subnet?.write(to: &writer)
        writer.setUInt16(UInt16(writer.bytes.count - lengthOffset - 2), at: lengthOffset)
    }
}
