/// Encoded answers kept for reuse: most queries repeat a question already answered, and an
/// answer that depends only on the question (not on the client, not on a health-checked name)
/// is the same bytes but for the ID and the question's letter case, which are patched in.
///
/// Lookups read the received bytes in place and allocate nothing: a plain query (one
/// question with an uncompressed name, at most an OPT record without options) is reduced to
/// its lowercased question and the flags that shape the answer, hashed, and compared with the
/// kept entry. Emptied whenever the snapshot it was filled from changes; bounded, emptied when
/// full. One per event loop, so it needs no lock.
public struct AnswerCache: Sendable {
    /// What a kept answer is for: the lowercased question and the packed shape (RD, CD, EDNS,
    /// DO and the size the transport allows).
    private struct Entry: Sendable {
        var question: [UInt8]
        var shape: UInt32
        var answer: [UInt8]
    }

    /// A kept answer for a query: patch in the query's ID and question bytes (offset 12,
    /// `questionLength` long) and send.
    public struct Hit {
        public var answer: [UInt8]
        public var questionLength: Int
        public var type: RecordType
        public var code: ResponseCode
    }

    public let capacity: Int
    private var generation: Int?
    private var entries: [Int: Entry] = [:]

    /// Answers kept at most. Default 50,000: a few MiB for a zone's common questions.
    public init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    public var count: Int { entries.count }

    /// The kept answer for the query in `bytes`, if there is one for the current `generation`.
    public mutating func lookup(_ bytes: UnsafeRawBufferPointer, over transport: ResponseEncoder.Transport, generation: Int) -> Hit? {
        if generation != self.generation {
            entries.removeAll(keepingCapacity: true)
            self.generation = generation
        }
        guard !entries.isEmpty, let key = Self.key(of: bytes, over: transport), let entry = entries[key.hash], entry.shape == key.shape,
            entry.question.count == key.questionLength
        else { return nil }
        for index in 0..<key.questionLength where entry.question[index] != DNSName.lowercase(bytes[DNSQuery.headerLength + index]) { return nil }
        let typeOffset = DNSQuery.headerLength + key.questionLength - 4
        return Hit(
            answer: entry.answer, questionLength: key.questionLength,
            type: RecordType(rawValue: UInt16(bytes[typeOffset]) << 8 | UInt16(bytes[typeOffset + 1])),
            code: ResponseCode(rawValue: UInt16(entry.answer[3] & 0x0F)))
    }

    /// Keeps `answer` for queries like the one in `bytes` (when it is a plain query).
    public mutating func store(_ answer: [UInt8], for bytes: UnsafeRawBufferPointer, over transport: ResponseEncoder.Transport) {
        guard let key = Self.key(of: bytes, over: transport) else { return }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        let question = (0..<key.questionLength).map { DNSName.lowercase(bytes[DNSQuery.headerLength + $0]) }
        entries[key.hash] = Entry(question: question, shape: key.shape, answer: answer)
    }

    /// The answer kept, with this query's ID and question.
    public static func patch(_ hit: Hit, with bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var answer = hit.answer
        for index in 0..<(DNSQuery.headerLength + hit.questionLength) where index < 2 || index >= DNSQuery.headerLength { answer[index] = bytes[index] }
        return answer
    }

    private struct Key {
        var hash: Int
        var shape: UInt32
        var questionLength: Int
    }

    /// The key of a plain query, or nil for anything else (which the full parser answers).
    private static func key(of bytes: UnsafeRawBufferPointer, over transport: ResponseEncoder.Transport) -> Key? {
        let header = DNSQuery.headerLength
        guard bytes.count > header + 4 else { return nil }
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        // A query (QR 0) with opcode QUERY, one question, nothing else but an optional OPT.
        guard flags & 0xF800 == 0, bytes[4] == 0, bytes[5] == 1, bytes[6] | bytes[7] | bytes[8] | bytes[9] | bytes[10] == 0, bytes[11] <= 1 else { return nil }
        var index = header
        while index < bytes.count, bytes[index] != 0 {
            guard bytes[index] < 64 else { return nil }
            index += Int(bytes[index]) + 1
        }
        let questionEnd = index + 5
        guard questionEnd <= bytes.count, questionEnd - header <= 255 + 4 else { return nil }
        var limit = ResponseEncoder.classicUDPSize
        var shape = UInt32(flags & 0x0110)
        if bytes[11] == 1 {
            // OPT: root name, type 41, UDP size, extended code 0, version 0, no options, last.
            let opt = questionEnd
            guard opt + 11 == bytes.count, bytes[opt] == 0, bytes[opt + 1] == 0, bytes[opt + 2] == 41, bytes[opt + 5] | bytes[opt + 6] == 0,
                bytes[opt + 9] | bytes[opt + 10] == 0
            else { return nil }
            let size = Int(bytes[opt + 3]) << 8 | Int(bytes[opt + 4])
            limit = min(max(size, ResponseEncoder.classicUDPSize), ResponseEncoder.maximumUDPSize)
            shape |= 0x1_0000 | (bytes[opt + 7] & 0x80 != 0 ? 0x2_0000 : 0)
        } else {
            guard questionEnd == bytes.count else { return nil }
        }
        if transport == .tcp { limit = 65535 }
        shape |= UInt32(limit) << 18
        let length = questionEnd - header
        var hasher = Hasher()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { lowered in
            for offset in 0..<length { lowered[offset] = DNSName.lowercase(bytes[header + offset]) }
            hasher.combine(bytes: UnsafeRawBufferPointer(lowered))
        }
        hasher.combine(shape)
        return Key(hash: hasher.finalize(), shape: shape, questionLength: length)
    }
}
