import Foundation

/// Which backups to keep, the one retention model of Zonal: for snapshots of files (the
/// topology's `backups:`, `zonal backup forget`) and for base backups of databases (`keep`,
/// `keep_days`). A backup is kept when any rule keeps it: the newest `last`, the newest of each
/// of the last `hourly`/`daily`/`weekly`/`monthly` periods (as restic does), or everything
/// younger than `within`. Pure: the backups and the time go in.
public struct Retention: Sendable, Hashable {
    public var last: Int
    public var hourly: Int
    public var daily: Int
    public var weekly: Int
    public var monthly: Int
    /// Everything younger than this is kept.
    public var within: Duration?

    /// A rule of 0 (or nil) is off; with every rule off nothing is removed.
    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, within: Duration? = nil) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.within = within
    }

    public var isEmpty: Bool { last + hourly + daily + weekly + monthly == 0 && within == nil }

    /// A decision for each snapshot, with the rules that keep it.
    public struct Decision: Sendable, Hashable {
        public var snapshot: String
        public var time: Date
        public var reasons: [String]
        public var keep: Bool { !reasons.isEmpty }
    }

    /// Decisions for `snapshots` (id, time), newest first. Periods are in UTC; `within` counts
    /// back from `now`.
    public func apply(to snapshots: [(id: String, time: Date)], now: Date = Date()) -> [Decision] {
        let newestFirst = snapshots.sorted { $0.time > $1.time }
        if isEmpty { return newestFirst.map { Decision(snapshot: $0.id, time: $0.time, reasons: ["no retention rule given"]) } }
        var reasons: [String: [String]] = [:]
        for (index, snapshot) in newestFirst.enumerated() where index < last {
            reasons[snapshot.id, default: []].append("last \(last)")
        }
        if let within {
            let cutoff = now.addingTimeInterval(-within.seconds)
            for snapshot in newestFirst where snapshot.time >= cutoff {
                reasons[snapshot.id, default: []].append("within \(within.zonalDescription)")
            }
        }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let buckets: [(String, Int, (Date) -> [Int])] = [
            ("hourly", hourly, { calendar.dateComponents([.year, .month, .day, .hour], from: $0).values }),
            ("daily", daily, { calendar.dateComponents([.year, .month, .day], from: $0).values }),
            ("weekly", weekly, { calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0).values }),
            ("monthly", monthly, { calendar.dateComponents([.year, .month], from: $0).values }),
        ]
        for (name, count, period) in buckets where count > 0 {
            var seen: [[Int]] = []
            for snapshot in newestFirst {
                let key = period(snapshot.time)
                guard !seen.contains(key) else { continue }
                seen.append(key)
                reasons[snapshot.id, default: []].append("\(name) \(count)")
                if seen.count == count { break }
            }
        }
        return newestFirst.map { Decision(snapshot: $0.id, time: $0.time, reasons: reasons[$0.id] ?? []) }
    }
}

extension DateComponents {
    fileprivate var values: [Int] {
        [yearForWeekOfYear, weekOfYear, year, month, day, hour].compactMap { $0 }
    }
}
