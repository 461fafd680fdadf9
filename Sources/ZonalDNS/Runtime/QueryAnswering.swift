import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// What a handler answers from and what it has written since the last flush: the answers of
/// one read go out in one flush, their counts into the metrics at the same time.
struct AnswerBatch {
    let server: NameServer
    var answering: QueryAnswering?
    var pending = false

    init(server: NameServer) {
        self.server = server
    }

    mutating func start(on loop: any EventLoop) {
        answering = QueryAnswering(server: server, loop: loop)
    }

    mutating func finish(_ context: ChannelHandlerContext) {
        answering?.flushMetrics()
        if pending { context.flush() }
        pending = false
    }
}

/// How a handler answers: the answer cache of its event loop first, then the responder on the
/// server's snapshot; the queries counted locally and added to the metrics per batch.
struct QueryAnswering {
    let server: NameServer
    let cache: NIOLoopBoundBox<AnswerCache>
    private var tally = QueryMetrics.Tally()

    init(server: NameServer, loop: any EventLoop) {
        self.server = server
        cache = server.answerCaches.cache(for: loop)
    }

    /// The one answer to a datagram, written straight into a buffer: a kept answer is copied
    /// and patched there without an array in between.
    mutating func answer(to message: ByteBuffer, from remote: SocketAddress?, over transport: ResponseEncoder.Transport, allocator: ByteBufferAllocator)
        -> ByteBuffer?
    {
        message.withUnsafeReadableBytes { bytes in
            if let hit = cache.value.lookup(bytes, over: transport, generation: server.generation) {
                tally.record(QueryResponder.Outcome(type: hit.type, code: hit.code))
                var buffer = allocator.buffer(bytes: hit.answer)
                buffer.setBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<2]), at: 0)
                buffer.setBytes(
                    UnsafeRawBufferPointer(rebasing: bytes[DNSQuery.headerLength..<(DNSQuery.headerLength + hit.questionLength)]), at: DNSQuery.headerLength)
                return buffer
            }
            guard case .message(let answer) = answerAfresh(bytes, from: remote, over: transport) else { return nil }
            return allocator.buffer(bytes: answer)
        }
    }

    mutating func reply(to message: ByteBuffer, from remote: SocketAddress?, over transport: ResponseEncoder.Transport) -> QueryResponder.Reply {
        message.withUnsafeReadableBytes { bytes in
            if let hit = cache.value.lookup(bytes, over: transport, generation: server.generation) {
                tally.record(QueryResponder.Outcome(type: hit.type, code: hit.code))
                return .message(AnswerCache.patch(hit, with: bytes))
            }
            return answerAfresh(bytes, from: remote, over: transport)
        }
    }

    /// The responder's reply on the current snapshot, kept in the cache when it may be reused.
    private mutating func answerAfresh(_ bytes: UnsafeRawBufferPointer, from remote: SocketAddress?, over transport: ResponseEncoder.Transport)
        -> QueryResponder.Reply
    {
        let client = Authority.Client(address: remote?.addressBytes ?? [], port: remote?.port ?? 0)
        let response = QueryResponder.respond(to: Array(bytes), from: client, over: transport, snapshot: server.snapshot)
        tally.record(response.outcome)
        if case .sameQuestion = response.reuse, case .message(let answer) = response.reply { cache.value.store(answer, for: bytes, over: transport) }
        return response.reply
    }

    mutating func flushMetrics() {
        server.metrics.flush(&tally)
    }
}

/// One answer cache per event loop, shared by that loop's UDP socket and TCP connections.
final class AnswerCaches: Sendable {
    private let caches: [ObjectIdentifier: NIOLoopBoundBox<AnswerCache>]

    init(group: MultiThreadedEventLoopGroup = .singleton) {
        var caches: [ObjectIdentifier: NIOLoopBoundBox<AnswerCache>] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(AnswerCache(), as: AnswerCache.self, eventLoop: loop)
        }
        self.caches = caches
    }

    /// The cache of `loop` (a loop of another group gets a cache of its own).
    func cache(for loop: any EventLoop) -> NIOLoopBoundBox<AnswerCache> {
        caches[ObjectIdentifier(loop)] ?? NIOLoopBoundBox.makeBoxSendingValue(AnswerCache(), as: AnswerCache.self, eventLoop: loop)
    }
}

extension SocketAddress {
    /// The address as 4 or 16 bytes, as health-checked names route by.
    var addressBytes: [UInt8] {
        switch self {
        case .v4(let address): withUnsafeBytes(of: address.address.sin_addr) { Array($0) }
        case .v6(let address): withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
        default: []
        }
    }
}
