/// Finds where complete RESP2/RESP3 values end, without building them: what the proxy needs to
/// count replies and forward their bytes untouched. Iterative (an explicit stack, no recursion),
/// so nesting costs no call depth, and every length is checked against ``RESPLimits`` first.
enum RESPScanner {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")

    /// The length of the complete value at the start of `bytes`; nil while more bytes are needed.
    static func frameLength(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits) throws(RESPProtocolError) -> Int? {
        var position = 0
        /// Elements still expected by each open aggregate, innermost last.
        var open: [Int] = []
        while true {
            guard position < bytes.count else { return nil }
            let type = bytes[position]
            guard let lineEnd = try lineEnd(bytes, from: position + 1, limits: limits) else { return nil }
            let line = UnsafeRawBufferPointer(rebasing: bytes[(position + 1)..<lineEnd])
            position = lineEnd + 2
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "("):
                break
            case UInt8(ascii: "_"):
                guard line.isEmpty else { throw RESPProtocolError("a RESP3 null carries no text") }
            case UInt8(ascii: "#"):
                guard line.count == 1, line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f") else {
                    throw RESPProtocolError("a RESP3 boolean is #t or #f")
                }
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                let length = try integer(line, what: "bulk length")
                if length == -1, type == UInt8(ascii: "$") { break }
                guard length >= 0, length <= limits.maxBulkLength else { throw RESPProtocolError("invalid bulk length") }
                guard bytes.count - position >= length + 2 else { return nil }
                position += length
                guard bytes[position] == cr, bytes[position + 1] == lf else { throw RESPProtocolError("a bulk string does not end with CRLF") }
                position += 2
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                let count = try integer(line, what: "multibulk length")
                if count == -1, type == UInt8(ascii: "*") { break }
                guard count >= 0, count <= limits.maxAggregateLength else { throw RESPProtocolError("invalid multibulk length") }
                // A map holds pairs; an attribute's pairs are followed by the value they describe.
                let elements = type == UInt8(ascii: "%") ? count * 2 : type == UInt8(ascii: "|") ? count * 2 + 1 : count
                if elements > 0 {
                    guard open.count < limits.maxDepth else { throw RESPProtocolError("aggregates nested deeper than \(limits.maxDepth)") }
                    open.append(elements)
                    continue
                }
            default:
                throw RESPProtocolError("unexpected byte 0x\(String(type, radix: 16)) where a RESP type was expected")
            }
            // One value is complete: it counts against the aggregates that hold it.
            while let last = open.last {
                if last > 1 {
                    open[open.count - 1] = last - 1
                    break
                }
                open.removeLast()
            }
            if open.isEmpty { return position }
        }
    }

    /// The index of the CR ending the line that starts at `start`; nil while the line is
    /// incomplete; an error past `maxLineLength`.
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, limits: RESPLimits) throws(RESPProtocolError) -> Int? {
        var index = start
        let end = min(bytes.count, start + limits.maxLineLength + 1)
        while index < end {
            if bytes[index] == lf {
                guard index > start, bytes[index - 1] == cr else { throw RESPProtocolError("a line ends with LF and no CR") }
                return index - 1
            }
            index += 1
        }
        if end < bytes.count || bytes.count - start > limits.maxLineLength { throw RESPProtocolError("too big line") }
        return nil
    }

    /// A signed decimal of at most 18 digits (what RESP lengths are); anything else is an error.
    static func integer(_ text: UnsafeRawBufferPointer, what: String) throws(RESPProtocolError) -> Int {
        var index = 0
        var negative = false
        if text.first == UInt8(ascii: "-") {
            negative = true
            index = 1
        }
        guard index < text.count, text.count - index <= 18 else { throw RESPProtocolError("invalid \(what)") }
        var value = 0
        while index < text.count {
            let digit = Int(text[index]) - 48
            guard digit >= 0, digit <= 9 else { throw RESPProtocolError("invalid \(what)") }
            value = value * 10 + digit
            index += 1
        }
        return negative ? -value : value
    }
}
