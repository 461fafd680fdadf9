import Testing
import ZonalTesting

@testable import ZonalBalancer

/// The seeded counterpart of the libFuzzer target in `Fuzz/`: damaged requests, split at
/// random points, never crash the client pipeline and only ever get the balancer's own
/// well-formed answers.
@Suite("HTTP front parsing under damaged input")
struct HTTPFrontFuzzTests {
    static let corpus = [
        "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: a=1; ZONALSRV=0123456789abcdef.abc\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ]

    /// Statuses the balancer may answer by itself when no server is available.
    static let allowed: Set<String> = ["100", "400", "408", "413", "431", "503"]

    @Test("intact requests each get the balancer's 503")
    func intact() {
        for request in Self.corpus {
            let answer = String(decoding: HTTPFrontHarness.feed([Array(request.utf8)]), as: UTF8.self)
            #expect(answer.contains("HTTP/1.1 503") || answer.contains("HTTP/1.0 503"), "\(request.debugDescription) got \(answer)")
        }
    }

    @Test("intact HTTP/2 conversations get SETTINGS first and a HEADERS answer on each request stream")
    func intactHTTP2() {
        for (index, conversation) in HTTP2Bytes.conversations.enumerated() {
            let answer = HTTPFrontHarness.feed([conversation])
            let frames = HTTP2Bytes.frames(in: answer)
            #expect(HTTP2Bytes.isServerAnswer(answer), "conversation \(index) got \(answer.count) bytes that are not whole frames")
            let reset = index == HTTP2Bytes.conversations.count - 1
            #expect(reset || frames?.contains { $0.type == 0x1 && $0.stream == 1 } == true, "conversation \(index): \(frames ?? [])")
        }
    }

    @Test("damaged HTTP/2 conversations get only whole frames back", arguments: 0..<4)
    func damagedHTTP2(batch: UInt64) async {
        var random = SeededRandom(seed: 0x2_F0_22 &+ batch)
        for round in 0..<120 {
            await Task.yield()
            var bytes = HTTP2Bytes.conversations[Int.random(in: 0..<HTTP2Bytes.conversations.count, using: &random)]
            // The preface stays whole half the time, so that the frames behind it are reached.
            let keep = Bool.random(using: &random) ? HTTP2Bytes.preface.count : 0
            var rest = Array(bytes.dropFirst(keep))
            for _ in 0..<Int.random(in: 1...4, using: &random) { damage(&rest, &random) }
            bytes = Array(bytes.prefix(keep)) + rest
            let answer = HTTPFrontHarness.feed(split(bytes, &random))
            let isHTTP1 = answer.starts(with: Array("HTTP/1.".utf8))
            #expect(answer.isEmpty || isHTTP1 || HTTP2Bytes.isServerAnswer(answer), "seed \(batch) round \(round): \(answer.prefix(40))")
        }
    }

    @Test("damaged requests get only well-formed answers of the balancer's own", arguments: 0..<8)
    func damaged(batch: UInt64) async {
        var random = SeededRandom(seed: 0xF0_22 &+ batch)
        for round in 0..<120 {
            // The harness runs synchronously; let other tests' tasks (lease keep-alives) run too.
            await Task.yield()
            var bytes = Array(Self.corpus[Int.random(in: 0..<Self.corpus.count, using: &random)].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) { damage(&bytes, &random) }
            let chunks = split(bytes, &random)
            let answer = String(decoding: HTTPFrontHarness.feed(chunks), as: UTF8.self)
            let statuses = statusCodes(in: answer)
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1."), "seed \(batch) round \(round): \(answer.prefix(80).debugDescription)")
            #expect(statuses.isSubset(of: Self.allowed), "seed \(batch) round \(round): statuses \(statuses) for \(bytes.count) bytes")
        }
    }

    private func damage(_ bytes: inout [UInt8], _ random: inout SeededRandom) {
        guard !bytes.isEmpty else { return }
        let at = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
        case 1: bytes.insert(contentsOf: Array("\r\n".utf8), at: at)
        case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
        case 3: bytes.insert(contentsOf: Array("X-Long: \(String(repeating: "y", count: Int.random(in: 100...6000, using: &random)))\r\n".utf8), at: at)
        case 4: bytes.insert(contentsOf: [UInt8](repeating: UInt8(ascii: ":"), count: 3), at: at)
        default: bytes = Array(bytes.prefix(at))
        }
    }

    private func split(_ bytes: [UInt8], _ random: inout SeededRandom) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = Int.random(in: 1...max(1, rest.count), using: &random)
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return chunks
    }

    private func statusCodes(in answer: String) -> Set<String> {
        Set(
            answer.components(separatedBy: "\r\n").compactMap { line -> String? in
                guard line.hasPrefix("HTTP/1."), line.count >= 12 else { return nil }
                return String(line.dropFirst(9).prefix(3))
            })
    }
}
