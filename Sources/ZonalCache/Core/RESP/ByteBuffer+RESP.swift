import NIOCore

/// Writing RESP: commands to Redis, replies to clients.
extension ByteBuffer {
    /// An array of bulk strings: how a command goes to Redis.
    public mutating func writeRESPArray(_ words: [[UInt8]]) {
        writeRESPHeader("*", words.count)
        for word in words { writeRESPBulk(word) }
    }

    public mutating func writeRESPCommand(_ words: [String]) {
        writeRESPArray(words.map { Array($0.utf8) })
    }

    public mutating func writeRESPBulk(_ bytes: [UInt8]) {
        writeRESPHeader("$", bytes.count)
        writeBytes(bytes)
        writeStaticString("\r\n")
    }

    public mutating func writeRESPBulk(_ text: String) {
        writeRESPBulk(Array(text.utf8))
    }

    /// A null bulk string in RESP2 (`$-1`), the null type in RESP3 (`_`).
    public mutating func writeRESPNull(protocolVersion: Int) {
        writeStaticString(protocolVersion >= 3 ? "_\r\n" : "$-1\r\n")
    }

    public mutating func writeRESPSimple(_ text: String) {
        writeStaticString("+")
        writeString(Self.singleLine(text))
        writeStaticString("\r\n")
    }

    /// An error reply: `text` starts with its code (`ERR`, `NOAUTH`, `MASTERDOWN`).
    public mutating func writeRESPError(_ text: String) {
        writeStaticString("-")
        writeString(Self.singleLine(text))
        writeStaticString("\r\n")
    }

    public mutating func writeRESPInteger(_ value: Int) {
        writeRESPHeader(":", value)
    }

    /// The header of an aggregate (`*`, `%`, `>`) or bulk string of `count` elements or bytes.
    public mutating func writeRESPHeader(_ type: StaticString, _ count: Int) {
        writeStaticString(type)
        writeString(String(count))
        writeStaticString("\r\n")
    }

    /// Simple strings and errors cannot hold line breaks.
    private static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\r" || $0 == "\n" ? " " : $0 })
    }
}
