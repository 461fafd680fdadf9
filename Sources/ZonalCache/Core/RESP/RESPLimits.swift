/// What a RESP peer may send before Zonal gives up on it with a protocol error: every length
/// read from the wire is checked against these before anything is allocated for it.
public struct RESPLimits: Sendable, Hashable {
    /// The largest bulk string (`$`, `!`, `=`), in bytes.
    public var maxBulkLength: Int
    /// The most elements in one array, set, push or map (pairs count twice).
    public var maxAggregateLength: Int
    /// How deeply aggregates may nest; a request is one level.
    public var maxDepth: Int
    /// The longest line: an inline command, a simple string, an error, a number.
    public var maxLineLength: Int

    public init(maxBulkLength: Int, maxAggregateLength: Int, maxDepth: Int, maxLineLength: Int) {
        self.maxBulkLength = maxBulkLength
        self.maxAggregateLength = maxAggregateLength
        self.maxDepth = maxDepth
        self.maxLineLength = maxLineLength
    }

    /// Requests of an authenticated client, as Redis takes them (`proto-max-bulk-len` 512 MiB,
    /// 1,048,576 arguments, 64 KiB inline commands).
    public static func client(maxBulkLength: Int = 512 << 20) -> RESPLimits {
        RESPLimits(maxBulkLength: maxBulkLength, maxAggregateLength: 1 << 20, maxDepth: 1, maxLineLength: 64 << 10)
    }

    /// Requests before `AUTH` succeeds, as Redis bounds them: 10 arguments of 16 KiB at most,
    /// so an unauthenticated peer cannot make the proxy buffer much.
    public static let unauthenticated = RESPLimits(maxBulkLength: 16 << 10, maxAggregateLength: 10, maxDepth: 1, maxLineLength: 16 << 10)

    /// Replies of a Redis server: large (a `KEYS` of millions) but still bounded, and nested no
    /// deeper than any Redis command answers.
    public static let server = RESPLimits(maxBulkLength: 1 << 32, maxAggregateLength: Int(Int32.max), maxDepth: 64, maxLineLength: 1 << 20)
}

/// A peer broke the protocol; the message is what Redis would say after `-ERR Protocol error: `.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "Protocol error: \(message)" }
}
