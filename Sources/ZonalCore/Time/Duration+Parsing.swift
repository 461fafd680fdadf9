import Foundation

/// Durations in configuration files are written the way operators write them: `500ms`, `2s`,
/// `1.5s`, `5m`, `1h`, `100us`. A bare number is rejected so that `timeout: 5` cannot be
/// mistaken for milliseconds by one reader and seconds by another.
extension Duration {
    private static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// The longest duration a configuration may name: ten years. Longer values are typing
    /// mistakes, and adding them to an instant could run off the end of 64-bit nanoseconds.
    public static let configMaximum = Duration.seconds(10 * 365 * 86_400)

    /// Parses a configuration duration such as `250ms` or `1.5s`; `nil` when the text is not one,
    /// or is negative, not finite, or longer than ``configMaximum``.
    public init?(configText text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Longest suffix first, so that "ms" is not read as "m" followed by garbage.
        for unit in Self.units.sorted(by: { $0.suffix.count > $1.suffix.count }) where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite,
                value * unit.nanoseconds <= Double(Self.configMaximum.nanoseconds)
            else { return nil }
            self = .nanoseconds(Int64(value * unit.nanoseconds))
            return
        }
        return nil
    }

    /// A short human form (`1.5s`, `250ms`, `3m0s`), the inverse of ``init(configText:)`` for
    /// whole units.
    public var zonalDescription: String {
        let ns = nanoseconds
        let sign = ns < 0 ? "-" : ""
        let magnitude = ns.magnitude
        switch magnitude {
        case 0: return "0s"
        case ..<1_000: return "\(sign)\(magnitude)ns"
        case ..<1_000_000: return "\(sign)\(Self.trim(Double(magnitude) / 1e3))us"
        case ..<1_000_000_000: return "\(sign)\(Self.trim(Double(magnitude) / 1e6))ms"
        case ..<60_000_000_000: return "\(sign)\(Self.trim(Double(magnitude) / 1e9))s"
        default:
            let totalSeconds = magnitude / 1_000_000_000
            let hours = totalSeconds / 3600
            let minutes = (totalSeconds % 3600) / 60
            let seconds = totalSeconds % 60
            return sign + (hours > 0 ? "\(hours)h\(minutes)m\(seconds)s" : "\(minutes)m\(seconds)s")
        }
    }

    private static func trim(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
