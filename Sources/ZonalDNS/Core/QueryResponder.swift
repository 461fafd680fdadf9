/// Turns the bytes of one received message into what to send back: nothing (not a query),
/// one answer, or the messages of a zone transfer. Pure: the zones, their journals and the
/// transfer permissions are one immutable ``Snapshot``, replaced as a whole on each change.
public struct QueryResponder: Sendable {
    /// Everything answers are made from, as of one moment.
    public struct Snapshot: Sendable {
        public var authority: Authority
        public var journals: [DNSName: ZoneJournal]
        /// Addresses allowed to transfer each zone.
        public var transferTo: [DNSName: [[UInt8]]]

        public init(authority: Authority, journals: [DNSName: ZoneJournal] = [:], transferTo: [DNSName: [[UInt8]]] = [:]) {
            self.authority = authority
            self.journals = journals
            self.transferTo = transferTo
        }
    }

    /// What to send.
    public enum Reply: Sendable {
        case none
        case message([UInt8])
        /// Several messages on one TCP connection.
        case transfer([[UInt8]])
    }

    /// What was asked and how it was answered, for metrics.
    public struct Outcome: Sendable {
        public var type: RecordType?
        public var code: ResponseCode
    }

    /// What the answer to a query may be reused for.
    public enum Reuse: Sendable {
        /// Any query with the same question and flags, until the snapshot changes.
        case sameQuestion
        /// This query only (a health-checked or client-subnet answer, a transfer, an error).
        case never
    }

    /// What to send, what it was, and whether it may be sent again for the same question.
    public struct Response: Sendable {
        public var reply: Reply
        public var outcome: Outcome
        public var reuse: Reuse = .never
    }

    /// A received message: a query to answer, or what to send at once.
    public enum Parsed: Sendable {
        case query(DNSQuery)
        case refused(Response)
    }

    public static func respond(
        to bytes: [UInt8], from client: Authority.Client, over transport: ResponseEncoder.Transport, snapshot: Snapshot
    ) -> Response {
        switch parse(bytes) {
        case .refused(let response): response
        case .query(let query): respond(to: query, from: client, over: transport, snapshot: snapshot)
        }
    }

    public static func parse(_ bytes: [UInt8]) -> Parsed {
        do throws(DNSQuery.Refusal) {
            return .query(try DNSQuery.parse(bytes))
        } catch {
            switch error {
            case .drop: return .refused(Response(reply: .none, outcome: Outcome(type: nil, code: .formatError)))
            case .reply(let id, let opcode, let code, let question):
                return .refused(
                    Response(
                        reply: .message(ResponseEncoder.refusal(id: id, opcode: opcode, code: code, question: question)),
                        outcome: Outcome(type: nil, code: code)))
            }
        }
    }

    public static func respond(
        to query: DNSQuery, from client: Authority.Client, over transport: ResponseEncoder.Transport, snapshot: Snapshot
    ) -> Response {
        let type = query.question.type
        if let edns = query.edns, edns.version != 0 {
            return Response(reply: .message(ResponseEncoder.badVersion(to: query)), outcome: Outcome(type: type, code: .badVersion))
        }
        if type == .axfr || type == .ixfr {
            return transfer(query, from: client, over: transport, snapshot: snapshot)
        }
        if type.isMeta, type != .any {
            return refuse(query, code: .notImplemented)
        }
        let answer = snapshot.authority.answer(query.question, client: client, subnet: query.edns?.clientSubnet, queryID: query.id)
        return Response(
            reply: .message(ResponseEncoder.encode(answer, to: query, over: transport)), outcome: Outcome(type: type, code: answer.code),
            reuse: answer.dependsOnClient || query.edns?.clientSubnet != nil ? .never : .sameQuestion)
    }

    /// AXFR and IXFR: over TCP, to an address the zone lists, of a zone we serve. IXFR over
    /// UDP gets the current SOA alone, which tells the client to come over TCP (RFC 1995 §2).
    private static func transfer(
        _ query: DNSQuery, from client: Authority.Client, over transport: ResponseEncoder.Transport, snapshot: Snapshot
    ) -> Response {
        let type = query.question.type
        guard let zone = snapshot.authority.zone(named: query.question.name) else { return refuse(query, code: .notAuthoritative) }
        guard snapshot.transferTo[zone.origin, default: []].contains(client.address) else { return refuse(query, code: .refused) }
        if transport == .udp {
            guard type == .ixfr else { return refuse(query, code: .formatError) }
            var answer = Authority.Answer()
            answer.answers = [zone.soaRecord]
            return Response(reply: .message(ResponseEncoder.encode(answer, to: query, over: .udp)), outcome: Outcome(type: type, code: .noError))
        }
        let messages =
            type == .axfr
            ? TransferEncoder.axfr(zone, to: query)
            : TransferEncoder.ixfr(zone, journal: snapshot.journals[zone.origin] ?? ZoneJournal(), to: query)
        return Response(reply: .transfer(messages), outcome: Outcome(type: type, code: .noError))
    }

    private static func refuse(_ query: DNSQuery, code: ResponseCode) -> Response {
        var answer = Authority.Answer()
        answer.code = code
        answer.authoritative = false
        return Response(reply: .message(ResponseEncoder.encode(answer, to: query, over: .udp)), outcome: Outcome(type: query.question.type, code: code))
    }
}
