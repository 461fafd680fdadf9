/// A resource record type (RFC 1035 §3.2.2 and later), any 16-bit value; the ones Zonal knows
/// by name are constants.
public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let a = RecordType(rawValue: 1)
    public static let ns = RecordType(rawValue: 2)
    public static let cname = RecordType(rawValue: 5)
    public static let soa = RecordType(rawValue: 6)
    public static let ptr = RecordType(rawValue: 12)
    public static let mx = RecordType(rawValue: 15)
    public static let txt = RecordType(rawValue: 16)
    public static let aaaa = RecordType(rawValue: 28)
    public static let srv = RecordType(rawValue: 33)
    public static let opt = RecordType(rawValue: 41)
    public static let ixfr = RecordType(rawValue: 251)
    public static let axfr = RecordType(rawValue: 252)
    public static let any = RecordType(rawValue: 255)
    public static let caa = RecordType(rawValue: 257)

    static let mnemonics: [(String, RecordType)] = [
        ("A", .a), ("NS", .ns), ("CNAME", .cname), ("SOA", .soa), ("PTR", .ptr), ("MX", .mx), ("TXT", .txt), ("AAAA", .aaaa),
        ("SRV", .srv), ("OPT", .opt), ("IXFR", .ixfr), ("AXFR", .axfr), ("ANY", .any), ("CAA", .caa),
    ]

    /// A mnemonic (`A`, `MX`) or the generic `TYPEnnn` of RFC 3597, in any case.
    public init?(mnemonic: Substring) {
        let upper = mnemonic.uppercased()
        if let known = Self.mnemonics.first(where: { $0.0 == upper }) {
            self = known.1
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)) {
            self.init(rawValue: value)
        } else {
            return nil
        }
    }

    public var description: String {
        Self.mnemonics.first { $0.1 == self }?.0 ?? "TYPE\(rawValue)"
    }

    /// Types a query may ask for but no zone holds (transfers, ANY, OPT).
    var isMeta: Bool { rawValue == 41 || (128...255).contains(rawValue) }
}

/// The class of a record; Zonal serves `IN` only, and answers other classes with REFUSED.
public struct RecordClass: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let internet = RecordClass(rawValue: 1)
    public static let any = RecordClass(rawValue: 255)
}

/// A response code, including the extended codes EDNS adds (RFC 6891).
public struct ResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let noError = ResponseCode(rawValue: 0)
    public static let formatError = ResponseCode(rawValue: 1)
    public static let serverFailure = ResponseCode(rawValue: 2)
    public static let nameError = ResponseCode(rawValue: 3)
    public static let notImplemented = ResponseCode(rawValue: 4)
    public static let refused = ResponseCode(rawValue: 5)
    public static let notAuthoritative = ResponseCode(rawValue: 9)
    public static let badVersion = ResponseCode(rawValue: 16)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 9: "NOTAUTH"
        case 16: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}

/// The operation of a message (RFC 1035, RFC 1996).
public struct Opcode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let query = Opcode(rawValue: 0)
    public static let notify = Opcode(rawValue: 4)
}
