import NIOCore

/// A decoded RESP2 or RESP3 value: what the agent and the Sentinel listener read from Redis or
/// from a client. The proxy forwards replies without decoding them (``RESPScanner``).
public indirect enum RESPValue: Sendable, Hashable {
    case simple(String)
    case error(String)
    case integer(Int64)
    /// `$-1` (RESP2) and `_` (RESP3) both decode to `.null`.
    case bulk([UInt8])
    case array([RESPValue])
    case null
    case double(String)
    case boolean(Bool)
    case bigNumber(String)
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case push([RESPValue])

    /// The value as text: simple strings, bulk strings, verbatim strings and numbers.
    public var text: String? {
        switch self {
        case .simple(let text), .double(let text), .bigNumber(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// The elements of an array, set or push.
    public var elements: [RESPValue]? {
        switch self {
        case .array(let elements), .set(let elements), .push(let elements): elements
        default: nil
        }
    }

    /// Takes the next complete value off the front of `buffer`; nil while incomplete.
    public static func next(from buffer: inout ByteBuffer, limits: RESPLimits) throws(RESPProtocolError) -> RESPValue? {
        let length: Int?
        do {
            length = try buffer.withUnsafeReadableBytes { bytes in try RESPScanner.frameLength(bytes, limits: limits) }
        } catch let error as RESPProtocolError {
            throw error
        } catch {
            throw RESPProtocolError("\(error)")
        }
        guard let length, var frame = buffer.readSlice(length: length) else { return nil }
        // The scanner has checked the frame, its lengths and its depth: decoding cannot fail.
        return decode(&frame)
    }

    private static func decode(_ frame: inout ByteBuffer) -> RESPValue {
        let type = frame.readInteger(as: UInt8.self)!
        let line = readLine(&frame)
        func elements(_ count: Int) -> [RESPValue] { (0..<count).map { _ in decode(&frame) } }
        switch type {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"): return Int64(line).map(RESPValue.integer) ?? .bigNumber(line)
        case UInt8(ascii: ","): return .double(line)
        case UInt8(ascii: "("): return .bigNumber(line)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .boolean(line == "t")
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = Int(line)!
            if length < 0 { return .null }
            let bytes = frame.readBytes(length: length)!
            frame.moveReaderIndex(forwardBy: 2)
            if type == UInt8(ascii: "!") { return .error(String(decoding: bytes, as: UTF8.self)) }
            // A verbatim string starts with its format (`txt:`).
            return .bulk(type == UInt8(ascii: "=") ? Array(bytes.dropFirst(4)) : bytes)
        case UInt8(ascii: "*"):
            let count = Int(line)!
            return count < 0 ? .null : .array(elements(count))
        case UInt8(ascii: "~"): return .set(elements(Int(line)!))
        case UInt8(ascii: ">"): return .push(elements(Int(line)!))
        case UInt8(ascii: "%"): return .map((0..<Int(line)!).map { _ in (decode(&frame), decode(&frame)) })
        default:  // `|`: an attribute, which describes the value after it; the value is what counts.
            _ = elements(Int(line)! * 2)
            return decode(&frame)
        }
    }

    private static func readLine(_ frame: inout ByteBuffer) -> String {
        let end = frame.readableBytesView.firstIndex(of: RESPScanner.cr)! - frame.readerIndex
        let line = frame.readString(length: end)!
        frame.moveReaderIndex(forwardBy: 2)
        return line
    }

    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.simple(let a), .simple(let b)), (.error(let a), .error(let b)), (.double(let a), .double(let b)), (.bigNumber(let a), .bigNumber(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.bulk(let a), .bulk(let b)): a == b
        case (.array(let a), .array(let b)), (.set(let a), .set(let b)), (.push(let a), .push(let b)): a == b
        case (.null, .null): true
        case (.boolean(let a), .boolean(let b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
        hasher.combine(elements?.count)
    }
}
