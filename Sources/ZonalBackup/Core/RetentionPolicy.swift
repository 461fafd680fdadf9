import Foundation

/// Which snapshots to keep: the last N, and the newest of each of the last N hours, days,
/// weeks and months that have a snapshot (as restic and borg count them). A snapshot kept by
/// any rule is kept; with no rule at all nothing is removed.
public struct RetentionPolicy: Sendable, Hashable {
    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0

    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
    }

    public var isEmpty: Bool { last + hourly + daily + weekly + monthly == 0 }

    /// A decision for each snapshot, with the rules that keep it.
    public struct Decision: Sendable, Hashable {
        public var snapshot: String
        public var time: Date
        public var reasons: [String]
        public var keep: Bool { !reasons.isEmpty }
    }

    /// Decisions for `snapshots` (id, time), newest first. Periods are in UTC.
    public func apply(to snapshots: [(id: String, time: Date)]) -> [Decision] {
        let newestFirst = snapshots.sorted { $0.time > $1.time }
        if isEmpty { return newestFirst.map { Decision(snapshot: $0.id, time: $0.time, reasons: ["no retention rule given"]) } }
        var reasons: [String: [String]] = [:]
        for (index, snapshot) in newestFirst.enumerated() where index < last {
            reasons[snapshot.id, default: []].append("last \(last)")
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

private extension DateComponents {
    var values: [Int] {
        [yearForWeekOfYear, weekOfYear, year, month, day, hour].compactMap { $0 }
    }
}
