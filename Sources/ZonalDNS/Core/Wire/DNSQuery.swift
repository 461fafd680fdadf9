/// A query as a server receives it: the one question, the EDNS options that shape the answer,
/// and for IXFR the serial the client holds. Parsing never fails silently: bytes that are not
/// a query are dropped (too short for a header, or a response), a malformed query gets
/// FORMERR and an unknown operation NOTIMP, each with the query's ID.
public struct DNSQuery: Sendable {
    public var id: UInt16
    public var opcode: Opcode
    public var recursionDesired: Bool
    public var checkingDisabled: Bool
    public var question: Question
    /// The question exactly as received (name in the client's case), copied into the answer.
    public var questionBytes: ArraySlice<UInt8>
    public var edns: EDNS?
    /// For IXFR: the serial of the SOA in the authority section, the version the client has.
    public var clientSerial: UInt32?

    public struct Question: Hashable, Sendable {
        public var name: DNSName
        public var type: RecordType
        public var recordClass: RecordClass
    }

    /// What the client's OPT record says (RFC 6891).
    public struct EDNS: Hashable, Sendable {
        /// The largest UDP answer the client accepts; values under 512 count as 512.
        public var udpSize: Int
        public var version: UInt8
        public var dnssecOK: Bool
        public var clientSubnet: ClientSubnet?
    }

    /// A message that is not a query to answer.
    public enum Refusal: Error, Hashable {
        /// Not a query at all, or nothing to answer: send nothing.
        case drop
        /// Answer with this code (FORMERR, NOTIMP), echoing the ID and, when readable, the question.
        case reply(id: UInt16, opcode: Opcode, code: ResponseCode, question: ArraySlice<UInt8>?)
    }

    static let headerLength = 12

    public static func parse(_ bytes: [UInt8]) throws(Refusal) -> DNSQuery {
        guard bytes.count >= headerLength else { throw .drop }
        var reader = WireReader(bytes)
        let id = (try? reader.uint16()) ?? 0
        let flags = (try? reader.uint16()) ?? 0
        guard flags & 0x8000 == 0 else { throw .drop }
        let opcode = Opcode(rawValue: UInt8((flags >> 11) & 0x0F))
        let counts = (0..<4).map { _ in Int((try? reader.uint16()) ?? 0) }
        func formatError(_ question: ArraySlice<UInt8>? = nil) -> Refusal {
            .reply(id: id, opcode: opcode, code: .formatError, question: question)
        }
        guard counts[0] == 1 else { throw formatError() }
        let question: Question
        do {
            question = Question(
                name: try reader.name(), type: RecordType(rawValue: try reader.uint16()), recordClass: RecordClass(rawValue: try reader.uint16()))
        } catch {
            throw formatError()
        }
        let questionBytes = bytes[headerLength..<reader.index]
        guard opcode == .query else { throw .reply(id: id, opcode: opcode, code: .notImplemented, question: questionBytes) }
        var query = DNSQuery(
            id: id, opcode: opcode, recursionDesired: flags & 0x0100 != 0, checkingDisabled: flags & 0x0010 != 0,
            question: question, questionBytes: questionBytes, edns: nil, clientSerial: nil)
        do {
            guard counts[1] == 0 else { throw WireError.trailingBytes }
            for _ in 0..<counts[2] {
                let record = try Self.readRecordHead(&reader)
                let data = try RecordData.read(type: record.type, length: record.length, from: &reader)
                if question.type == .ixfr, case .soa(let soa) = data { query.clientSerial = soa.serial }
            }
            for _ in 0..<counts[3] {
                let record = try Self.readRecordHead(&reader)
                guard record.type == .opt else {
                    _ = try reader.bytes(record.length)
                    continue
                }
                guard query.edns == nil, record.name.isRoot else { throw WireError.badRecordData(.opt) }
                query.edns = try Self.readEDNS(record, &reader)
            }
            guard reader.isAtEnd else { throw WireError.trailingBytes }
        } catch {
            throw formatError(questionBytes)
        }
        return query
    }

    private struct RecordHead {
        var name: DNSName
        var type: RecordType
        var recordClass: UInt16
        var ttl: UInt32
        var length: Int
    }

    private static func readRecordHead(_ reader: inout WireReader) throws(WireError) -> RecordHead {
        RecordHead(
            name: try reader.name(), type: RecordType(rawValue: try reader.uint16()), recordClass: try reader.uint16(),
            ttl: try reader.uint32(), length: Int(try reader.uint16()))
    }

    private static func readEDNS(_ record: RecordHead, _ reader: inout WireReader) throws(WireError) -> EDNS {
        var edns = EDNS(
            udpSize: max(512, Int(record.recordClass)), version: UInt8(truncatingIfNeeded: record.ttl >> 16),
            dnssecOK: record.ttl & 0x8000 != 0, clientSubnet: nil)
        var options = WireReader(Array(try reader.bytes(record.length)))
        while !options.isAtEnd {
            let code = try options.uint16()
            let length = Int(try options.uint16())
            let value = try options.bytes(length)
            if code == ClientSubnet.optionCode {
                guard edns.clientSubnet == nil, let subnet = ClientSubnet(option: value) else { throw .badRecordData(.opt) }
                edns.clientSubnet = subnet
            }
        }
        return edns
    }
}
