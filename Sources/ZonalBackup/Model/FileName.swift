/// File names and symlink targets as Linux has them — any bytes but NUL (and `/` within a
/// name) — held in Swift strings without loss. Valid UTF-8 stays as it is; every other byte
/// b (always 0x80 or above) stands as the private-use scalar U+EF00 + b, as do the bytes of a
/// name's own scalars in U+EF80…U+EFFF, so that the mapping is one to one: ``bytes(of:)``
/// gives back exactly the bytes ``string(from:)`` was given. Every system call that takes a
/// path goes through ``withPath(_:_:)``.
public enum FileName {
    /// The scalars that stand for single bytes.
    static let escapes: ClosedRange<UInt32> = 0xEF80...0xEFFF

    /// The bytes of a name or path as a string (unchanged when they are UTF-8 without escapes).
    public static func string(from bytes: some Collection<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains(where: { escapes.contains($0.value) }) {
            return text
        }
        var scalars = String.UnicodeScalarView()
        var rest = Array(bytes)[...]
        while let first = rest.first {
            let length = sequenceLength(first)
            if length > 1, rest.count >= length, let decoded = String(validating: rest.prefix(length), as: UTF8.self),
                let scalar = decoded.unicodeScalars.first, decoded.unicodeScalars.count == 1, !escapes.contains(scalar.value)
            {
                scalars.append(scalar)
                rest = rest.dropFirst(length)
            } else if first < 0x80 {
                scalars.append(UnicodeScalar(first))
                rest = rest.dropFirst()
            } else {
                scalars.append(UnicodeScalar(0xEF00 + UInt32(first))!)
                rest = rest.dropFirst()
            }
        }
        return String(scalars)
    }

    /// The bytes a string from ``string(from:)`` stands for.
    public static func bytes(of name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(name.utf8.count)
        for scalar in name.unicodeScalars {
            if escapes.contains(scalar.value) {
                bytes.append(UInt8(scalar.value - 0xEF00))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }

    /// Calls `body` with the path as the NUL-terminated bytes the kernel wants.
    public static func withPath<Result, Failure: Error>(_ path: String, _ body: (UnsafePointer<CChar>) throws(Failure) -> Result) throws(Failure) -> Result {
        let bytes = self.bytes(of: path).map { CChar(bitPattern: $0) } + [0]
        return try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> Result in try body(buffer.baseAddress!) }
    }

    /// Whether `name` holds bytes that are not UTF-8 (shown escaped), for messages.
    public static func printable(_ name: String) -> String {
        String(name.unicodeScalars.map { escapes.contains($0.value) ? "\\x" + String($0.value - 0xEF00, radix: 16, uppercase: true) : String($0) }.joined())
    }

    /// The length of the UTF-8 sequence a lead byte starts (1 for anything that cannot lead one).
    private static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 1
        }
    }
}
