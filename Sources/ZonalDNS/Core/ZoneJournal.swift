/// The recent versions of one zone as differences between serials, so a secondary that holds
/// an older version gets only what changed (IXFR, RFC 1995). Bounded: past
/// ``Settings/maximumVersions`` the oldest differences go, and a secondary that far behind
/// gets the whole zone.
public struct ZoneJournal: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Differences kept. Default 100: a failover record flapping once a minute stays
        /// incremental for well over an hour.
        public var maximumVersions = 100

        public init() {}
    }

    /// The change from one serial to the next.
    public struct Difference: Sendable, Hashable {
        public var from: RecordData.SOA
        public var to: RecordData.SOA
        public var removed: [ResourceRecord]
        public var added: [ResourceRecord]
    }

    public let settings: Settings
    public private(set) var differences: [Difference] = []

    public init(settings: Settings = .init()) {
        self.settings = settings
    }

    /// Notes the change from `old` to `new` (two versions of the same zone).
    public mutating func record(from old: Zone, to new: Zone) {
        let oldRecords = Self.counted(old.records.filter { $0.type != .soa })
        let newRecords = Self.counted(new.records.filter { $0.type != .soa })
        var removed: [ResourceRecord] = []
        var added: [ResourceRecord] = []
        for (record, count) in oldRecords.sorted(by: { $0.key.name.description < $1.key.name.description }) {
            removed += Array(repeating: record, count: max(0, count - (newRecords[record] ?? 0)))
        }
        for (record, count) in newRecords.sorted(by: { $0.key.name.description < $1.key.name.description }) {
            added += Array(repeating: record, count: max(0, count - (oldRecords[record] ?? 0)))
        }
        differences.append(Difference(from: old.soa, to: new.soa, removed: removed, added: added))
        if differences.count > settings.maximumVersions { differences.removeFirst(differences.count - settings.maximumVersions) }
    }

    private static func counted(_ records: [ResourceRecord]) -> [ResourceRecord: Int] {
        records.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// The differences that lead from `serial` to `current`, in order; nil when the journal
    /// does not reach back that far (or never held that serial).
    public func differences(since serial: UInt32, to current: UInt32) -> [Difference]? {
        guard serial != current else { return [] }
        guard let start = differences.lastIndex(where: { $0.from.serial == serial }) else { return nil }
        let chain = Array(differences[start...])
        guard chain.last?.to.serial == current else { return nil }
        for (left, right) in zip(chain, chain.dropFirst()) where left.to.serial != right.from.serial { return nil }
        return chain
    }
}

extension RecordData.SOA {
    /// The serial after this one, by serial arithmetic (RFC 1982): wraps past 2³²−1.
    public var nextSerial: UInt32 { serial &+ 1 }

    /// Whether `other` is newer than `serial` in serial arithmetic.
    public static func isNewer(_ other: UInt32, than serial: UInt32) -> Bool {
        other != serial && (other &- serial) < 0x8000_0000
    }
}
