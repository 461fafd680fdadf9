/// Content-defined chunking (FastCDC with normalized chunking): cut points depend on the bytes
/// around them, not on their offset, so inserting or deleting bytes moves only the boundaries
/// near the change and the rest of a file still deduplicates.
///
/// A gear hash rolls over the bytes; below the average size a cut needs more zero bits (a
/// harder mask), above it fewer, which pulls chunk sizes towards the average. Bytes before the
/// minimum size are skipped, and a chunk never exceeds the maximum.
public struct FastCDC: Sendable, Hashable {
    public struct Settings: Sendable, Hashable, Codable {
        public var minimum: Int
        public var average: Int
        public var maximum: Int

        /// 512 KiB / 1 MiB / 8 MiB by default.
        public init(minimum: Int = 512 << 10, average: Int = 1 << 20, maximum: Int = 8 << 20) {
            self.minimum = minimum
            self.average = average
            self.maximum = maximum
        }

        /// Why these sizes cannot work, if they cannot.
        public var problem: String? {
            guard minimum >= 64 else { return "the minimum chunk size must be at least 64 bytes" }
            guard minimum < average, average < maximum else { return "chunk sizes must grow: minimum < average < maximum" }
            guard average & (average - 1) == 0 else { return "the average chunk size must be a power of two" }
            return nil
        }
    }

    public let settings: Settings
    private let smallMask: UInt64
    private let largeMask: UInt64

    public init(settings: Settings = .init()) {
        precondition(settings.problem == nil, settings.problem ?? "")
        self.settings = settings
        let bits = settings.average.trailingZeroBitCount
        // The gear hash shifts left, so its high bits carry the most history: test those.
        smallMask = Self.highBits(bits + 2)
        largeMask = Self.highBits(max(bits - 2, 1))
    }

    /// The length of the chunk that starts `bytes`; `bytes` holds the rest of the input or at
    /// least `maximum` bytes of it.
    public func cut(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = bytes.count
        guard count > settings.minimum else { return count }
        let normal = min(settings.average, count)
        let end = min(settings.maximum, count)
        let smallMask = self.smallMask
        let largeMask = self.largeMask
        // The table and the bytes through raw pointers: this loop sees every byte backed up, so
        // neither a bounds check nor the lazy global's once-check may sit inside it.
        return Self.gear.withUnsafeBufferPointer { gear in
            var hash: UInt64 = 0
            var index = settings.minimum
            while index < normal {
                hash = (hash << 1) &+ gear[Int(bytes[index])]
                if hash & smallMask == 0 { return index + 1 }
                index += 1
            }
            while index < end {
                hash = (hash << 1) &+ gear[Int(bytes[index])]
                if hash & largeMask == 0 { return index + 1 }
                index += 1
            }
            return end
        }
    }

    private static func highBits(_ count: Int) -> UInt64 {
        count >= 64 ? .max : ~(UInt64.max >> UInt64(count))
    }

    /// 256 fixed pseudo-random values (SplitMix64 from a fixed seed): every repository, on
    /// every machine, cuts the same bytes the same way.
    static let gear: [UInt64] = {
        var state: UInt64 = 0x5A4F_4E41_4C43_4443
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()
}

/// Splits a stream into chunks with ``FastCDC``, holding at most one maximum-size chunk plus one
/// read of input in memory.
public struct ChunkStream {
    private let chunker: FastCDC
    private var buffer: [UInt8] = []
    private var start = 0

    public init(chunker: FastCDC) {
        self.chunker = chunker
    }

    /// Adds input and returns the chunks it completes.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        // The window never holds more than a maximum chunk and one read: sized once, not doubled.
        if buffer.capacity < chunker.settings.maximum + bytes.count { buffer.reserveCapacity(chunker.settings.maximum + bytes.count) }
        buffer.append(contentsOf: bytes)
        var chunks: [[UInt8]] = []
        while buffer.count - start >= chunker.settings.maximum {
            chunks.append(next())
        }
        compact()
        return chunks
    }

    /// The chunks left at the end of the input.
    public mutating func finish() -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        while start < buffer.count { chunks.append(next()) }
        buffer = []
        start = 0
        return chunks
    }

    private mutating func next() -> [UInt8] {
        let length = buffer.withUnsafeBytes { chunker.cut(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        defer { start += length }
        return Array(buffer[start..<(start + length)])
    }

    /// Drops the consumed front once it is at least as long as what remains, so each byte is
    /// moved at most once on average however the reads and the chunks fall.
    private mutating func compact() {
        if start > 0, start >= buffer.count - start {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }
}
