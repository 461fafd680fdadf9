/// A domain name as DNS carries it: length-prefixed labels ending with the root's empty label,
/// the letters in the case they were written. Names compare and hash without regard to ASCII
/// case (RFC 4343), so `WWW.Example.` finds `www.example.`, while answers keep the case asked.
public struct DNSName: Sendable, CustomStringConvertible {
    /// The uncompressed wire form, root label included (`3www7example0`).
    public let wire: [UInt8]

    /// The longest name DNS allows, in wire bytes (RFC 1035 §3.1).
    public static let maximumWireLength = 255
    /// The longest label (RFC 1035 §2.3.4).
    public static let maximumLabelLength = 63

    public static let root = DNSName(validatedWire: [0])

    /// Wraps wire bytes already known to be a well-formed name.
    init(validatedWire wire: [UInt8]) {
        self.wire = wire
    }

    /// A name from its labels (without the root); nil when a label is empty or too long or
    /// the whole is too long.
    public init?(labels: [ArraySlice<UInt8>]) {
        var wire: [UInt8] = []
        wire.reserveCapacity(labels.reduce(1) { $0 + $1.count + 1 })
        for label in labels {
            guard !label.isEmpty, label.count <= Self.maximumLabelLength else { return nil }
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
        }
        wire.append(0)
        guard wire.count <= Self.maximumWireLength else { return nil }
        self.wire = wire
    }

    /// Parses presentation form (`www.example.com.`, `\.`, `\032` escapes). A name without the
    /// final dot is relative and gets `origin` appended; nil origin makes it absolute.
    public init(parsing text: Substring, origin: DNSName?) throws(DNSNameError) {
        if text == "." {
            self = .root
            return
        }
        if text == "@" {
            guard let origin else { throw .relativeWithoutOrigin(String(text)) }
            self = origin
            return
        }
        var labels: [ArraySlice<UInt8>] = []
        var label: [UInt8] = []
        var absolute = false
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "."):
                guard !label.isEmpty else { throw .emptyLabel(String(text)) }
                labels.append(label[...])
                label = []
                if bytes.isEmpty { absolute = true }
            case UInt8(ascii: "\\"):
                label.append(try Self.unescape(&bytes, in: text))
            default:
                label.append(byte)
            }
        }
        if !label.isEmpty { labels.append(label[...]) }
        if !absolute, let origin {
            labels += origin.labels
        } else if !absolute {
            throw .relativeWithoutOrigin(String(text))
        }
        guard let name = DNSName(labels: labels) else { throw .tooLong(String(text)) }
        self = name
    }

    /// Reads `\X` (X itself) or `\DDD` (a decimal byte) after a backslash.
    static func unescape(_ bytes: inout ArraySlice<UInt8>, in text: Substring) throws(DNSNameError) -> UInt8 {
        guard let first = bytes.popFirst() else { throw .badEscape(String(text)) }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return first }
        var value = Int(first - UInt8(ascii: "0"))
        for _ in 0..<2 {
            guard let digit = bytes.popFirst(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { throw .badEscape(String(text)) }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        guard value <= 255 else { throw .badEscape(String(text)) }
        return UInt8(value)
    }

    /// The labels, root excluded, as slices of ``wire``.
    public var labels: [ArraySlice<UInt8>] {
        var labels: [ArraySlice<UInt8>] = []
        var index = 0
        while wire[index] != 0 {
            let length = Int(wire[index])
            labels.append(wire[(index + 1)..<(index + 1 + length)])
            index += length + 1
        }
        return labels
    }

    public var labelCount: Int {
        var count = 0
        var index = 0
        while wire[index] != 0 {
            count += 1
            index += Int(wire[index]) + 1
        }
        return count
    }

    public var isRoot: Bool { wire.count == 1 }

    /// The name without its first label; the root's parent is nil.
    public var parent: DNSName? {
        guard !isRoot else { return nil }
        return DNSName(validatedWire: Array(wire[(Int(wire[0]) + 1)...]))
    }

    /// Whether the first label is `*`, which makes this a wildcard owner (RFC 4592).
    public var isWildcard: Bool { wire.count >= 3 && wire[0] == 1 && wire[1] == UInt8(ascii: "*") }

    /// `*.` followed by this name; nil when that would be too long.
    public var wildcardChild: DNSName? {
        guard wire.count + 2 <= Self.maximumWireLength else { return nil }
        return DNSName(validatedWire: [1, UInt8(ascii: "*")] + wire)
    }

    /// Whether this name is `ancestor` or lies below it.
    public func isSubdomain(of ancestor: DNSName) -> Bool {
        guard wire.count >= ancestor.wire.count else { return false }
        let offset = wire.count - ancestor.wire.count
        // The suffix must start on a label boundary.
        var index = 0
        while index < offset { index += Int(wire[index]) + 1 }
        guard index == offset else { return false }
        return Self.equalIgnoringCase(wire[offset...], ancestor.wire[...])
    }

    /// This name with ASCII letters lowercased: the key zones are indexed by.
    public var lowercased: DNSName {
        DNSName(validatedWire: wire.map(Self.lowercase))
    }

    @inline(__always)
    static func lowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    static func equalIgnoringCase(_ left: ArraySlice<UInt8>, _ right: ArraySlice<UInt8>) -> Bool {
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { lowercase($0) == lowercase($1) }
    }

    /// Presentation form, absolute, with bytes outside letters, digits, `-`, `_` and `*`
    /// escaped as `\DDD` and `.` or `\` as `\.` and `\\`.
    public var description: String {
        guard !isRoot else { return "." }
        var text = ""
        for label in labels {
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"):
                    text += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    text.unicodeScalars.append(UnicodeScalar(byte))
                default:
                    text += "\\" + String(format3: byte)
                }
            }
            text += "."
        }
        return text
    }
}

extension DNSName: Hashable {
    public static func == (left: DNSName, right: DNSName) -> Bool {
        equalIgnoringCase(left.wire[...], right.wire[...])
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: wire.count) { lowered in
            for (index, byte) in wire.enumerated() { lowered[index] = Self.lowercase(byte) }
            hasher.combine(bytes: UnsafeRawBufferPointer(lowered))
        }
    }
}

/// Why a name in presentation form was refused.
public enum DNSNameError: Error, Hashable, CustomStringConvertible {
    case emptyLabel(String)
    case tooLong(String)
    case badEscape(String)
    case relativeWithoutOrigin(String)

    public var description: String {
        switch self {
        case .emptyLabel(let name): "name \"\(name)\" has an empty label (two dots in a row or a leading dot)"
        case .tooLong(let name): "name \"\(name)\" is too long (labels at most 63 bytes, the whole at most 255)"
        case .badEscape(let name): "name \"\(name)\" has a bad escape (\\X or \\DDD with DDD at most 255)"
        case .relativeWithoutOrigin(let name): "name \"\(name)\" is relative and no origin is set"
        }
    }
}

extension String {
    /// A byte as three decimal digits, the form of `\DDD` escapes.
    init(format3 byte: UInt8) {
        let digits = String(byte)
        self = String(repeating: "0", count: 3 - digits.count) + digits
    }
}
