/// HTTP/2 client bytes written out by hand (RFC 9113 frames, RFC 7541 HPACK from the static
/// table), for the fuzz targets of the balancer's front and their seeded counterparts, and a
/// reader that says whether an answer is made of whole frames.
public enum HTTP2Bytes {
    public static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// One frame: the 9-byte header, then `payload`.
    public static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    static let settings: UInt8 = 0x4
    static let headers: UInt8 = 0x1
    static let data: UInt8 = 0x0
    static let endStream: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4

    /// `:method GET`, `:scheme http`, `:path /`, then `:authority x` (static table entries 2, 6,
    /// 4 and a literal with the name of entry 1).
    static let getBlock: [UInt8] = [0x82, 0x86, 0x84, 0x41, 0x01, UInt8(ascii: "x")]
    /// The same with `:method POST` (entry 3).
    static let postBlock: [UInt8] = [0x83, 0x86, 0x84, 0x41, 0x01, UInt8(ascii: "x")]

    /// Whole client conversations: a GET, a POST with a body, two streams, a head split over
    /// CONTINUATION, a PING and a WINDOW_UPDATE, a stream reset by the client.
    public static let conversations: [[UInt8]] = {
        let start = preface + frame(type: settings, flags: 0, stream: 0)
        return [
            start + frame(type: headers, flags: endStream | endHeaders, stream: 1, getBlock),
            start + frame(type: headers, flags: endHeaders, stream: 1, postBlock) + frame(type: data, flags: endStream, stream: 1, Array("hello".utf8)),
            start + frame(type: headers, flags: endStream | endHeaders, stream: 1, getBlock)
                + frame(type: headers, flags: endStream | endHeaders, stream: 3, getBlock),
            start + frame(type: headers, flags: endStream, stream: 1, Array(getBlock.prefix(3)))
                + frame(type: 0x9, flags: endHeaders, stream: 1, Array(getBlock.dropFirst(3))),
            start + frame(type: 0x6, flags: 0, stream: 0, [UInt8](repeating: 7, count: 8))
                + frame(type: 0x8, flags: 0, stream: 0, [0, 0, 0x10, 0]) + frame(type: headers, flags: endStream | endHeaders, stream: 1, getBlock),
            start + frame(type: headers, flags: endHeaders, stream: 1, postBlock) + frame(type: 0x3, flags: 0, stream: 1, [0, 0, 0, 8]),
        ]
    }()

    /// The frames `bytes` consists of, as (type, stream), or nil when it is not a run of whole
    /// frames.
    public static func frames(in bytes: [UInt8]) -> [(type: UInt8, stream: UInt32)]? {
        var frames: [(type: UInt8, stream: UInt32)] = []
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 9 else { return nil }
            let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
            let stream = UInt32(bytes[at + 5] & 0x7F) << 24 | UInt32(bytes[at + 6]) << 16 | UInt32(bytes[at + 7]) << 8 | UInt32(bytes[at + 8])
            guard bytes.count - at - 9 >= length else { return nil }
            frames.append((bytes[at + 3], stream))
            at += 9 + length
        }
        return frames
    }

    /// Whether `answer` is what a server may send an HTTP/2 client: nothing, or whole frames
    /// that begin with its SETTINGS.
    public static func isServerAnswer(_ answer: [UInt8]) -> Bool {
        guard let frames = frames(in: answer) else { return false }
        return frames.first.map { $0.type == settings && $0.stream == 0 } ?? true
    }
}
