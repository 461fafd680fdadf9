import NIOCore

/// One command from a client: its bytes in RESP form (a client's inline command is re-encoded),
/// ready to forward as they are, and its name. The other arguments are read from the frame only
/// when asked for: the proxy needs them for a handful of commands, and not building them for
/// every `GET` is most of what parsing costs.
public struct RESPRequest: Sendable {
    public var frame: ByteBuffer
    /// The command's name, upper-cased (`GET`).
    public let name: String

    init(frame: ByteBuffer, name: ByteBuffer) {
        self.frame = frame
        self.name = String(decoding: name.readableBytesView, as: UTF8.self).uppercased()
    }

    /// Every argument, the name first, as slices of the frame.
    public var arguments: [ByteBuffer] {
        var frame = self.frame
        guard frame.readInteger(as: UInt8.self) == UInt8(ascii: "*"), let count = Self.readNumber(&frame) else { return [] }
        return (0..<count).compactMap { _ -> ByteBuffer? in
            frame.moveReaderIndex(forwardBy: 1)
            guard let length = Self.readNumber(&frame), let argument = frame.readSlice(length: length) else { return nil }
            frame.moveReaderIndex(forwardBy: 2)
            return argument
        }
    }

    /// A decimal and its CRLF, from a frame the parser has already checked.
    private static func readNumber(_ frame: inout ByteBuffer) -> Int? {
        guard let end = frame.readableBytesView.firstIndex(of: RESPScanner.cr) else { return nil }
        let text = frame.readString(length: end - frame.readerIndex)
        frame.moveReaderIndex(forwardBy: 2)
        return text.flatMap { Int($0) }
    }

    /// Argument `index` as text, upper-cased; nil past the end.
    public func keyword(_ index: Int) -> String? {
        text(index)?.uppercased()
    }

    /// Argument `index` as it came; nil past the end.
    public func text(_ index: Int) -> String? {
        let arguments = self.arguments
        guard index < arguments.count else { return nil }
        return String(decoding: arguments[index].readableBytesView, as: UTF8.self)
    }

    /// Takes the next complete request off the front of `buffer`: a RESP array of bulk strings
    /// or an inline command (a line of words, as `telnet` sends). Nil while incomplete; empty
    /// inline lines are skipped.
    public static func next(from buffer: inout ByteBuffer, limits: RESPLimits) throws(RESPProtocolError) -> RESPRequest? {
        while buffer.readableBytes > 0 {
            let parsed: (request: RESPRequest?, consumed: Int)?
            do {
                parsed = try buffer.withUnsafeReadableBytes { bytes in
                    bytes[0] == UInt8(ascii: "*") ? try multibulk(bytes, buffer: buffer, limits: limits) : try inline(bytes, limits: limits)
                }
            } catch let error as RESPProtocolError {
                throw error
            } catch {
                throw RESPProtocolError("\(error)")
            }
            guard let parsed else { return nil }
            buffer.moveReaderIndex(forwardBy: parsed.consumed)
            if let request = parsed.request { return request }
        }
        return nil
    }

    private static func multibulk(_ bytes: UnsafeRawBufferPointer, buffer: ByteBuffer, limits: RESPLimits) throws -> (RESPRequest?, Int)? {
        guard let headerEnd = try RESPScanner.lineEnd(bytes, from: 1, limits: limits) else { return nil }
        let count = try RESPScanner.integer(UnsafeRawBufferPointer(rebasing: bytes[1..<headerEnd]), what: "multibulk length")
        guard count <= limits.maxAggregateLength else { throw RESPProtocolError("invalid multibulk length") }
        var position = headerEnd + 2
        guard count > 0 else { return (nil, position) }
        var name: ByteBuffer?
        for _ in 0..<count {
            guard position < bytes.count else { return nil }
            guard bytes[position] == UInt8(ascii: "$") else {
                throw RESPProtocolError("expected '$', got '\(Character(Unicode.Scalar(bytes[position])))'")
            }
            guard let lineEnd = try RESPScanner.lineEnd(bytes, from: position + 1, limits: limits) else { return nil }
            let length = try RESPScanner.integer(UnsafeRawBufferPointer(rebasing: bytes[(position + 1)..<lineEnd]), what: "bulk length")
            guard length >= 0, length <= limits.maxBulkLength else { throw RESPProtocolError("invalid bulk length") }
            let start = lineEnd + 2
            guard bytes.count - start >= length + 2 else { return nil }
            guard bytes[start + length] == RESPScanner.cr, bytes[start + length + 1] == RESPScanner.lf else {
                throw RESPProtocolError("a bulk string does not end with CRLF")
            }
            if name == nil { name = buffer.getSlice(at: buffer.readerIndex + start, length: length)! }
            position = start + length + 2
        }
        return (RESPRequest(frame: buffer.getSlice(at: buffer.readerIndex, length: position)!, name: name!), position)
    }

    private static func inline(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits) throws -> (RESPRequest?, Int)? {
        var end = 0
        while end < bytes.count, bytes[end] != RESPScanner.lf {
            end += 1
            if end > limits.maxLineLength { throw RESPProtocolError("too big inline request") }
        }
        guard end < bytes.count else { return nil }
        let line = bytes[0..<end].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == RESPScanner.cr })
        guard !line.isEmpty else { return (nil, end + 1) }
        guard line.count <= limits.maxAggregateLength else { throw RESPProtocolError("invalid multibulk length") }
        let words = line.map { Array($0) }
        var frame = ByteBufferAllocator().buffer(capacity: end + 16 * words.count)
        frame.writeRESPArray(words)
        return (RESPRequest(frame: frame, name: ByteBuffer(bytes: words[0])), end + 1)
    }
}
