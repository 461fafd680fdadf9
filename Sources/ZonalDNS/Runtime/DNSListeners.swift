import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The UDP side: one socket per event loop on the same port (`SO_REUSEPORT`, so the kernel
/// spreads queries over the cores), datagrams read and answered in batches (`recvmmsg`, and
/// the answers of one read flushed together).
struct UDPListener: Service {
    let server: NameServer
    let host: String
    let port: Int
    let onBound: @Sendable (SocketAddress) -> Void

    /// Datagrams read per system call.
    static let readBatch = 64
    /// Room for each datagram of a batch: larger queries are cut and get FORMERR. Queries are
    /// a question and an OPT record, rarely over 512 bytes.
    static let largestQuery = 2048

    func run() async throws {
        var channels: [any Channel] = []
        var boundPort = port
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            let server = self.server
            let channel = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_REUSEPORT)), value: 1)
                .channelOption(.datagramVectorReadMessageCount, value: Self.readBatch)
                .channelOption(.maxMessagesPerRead, value: 16)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.readBatch * Self.largestQuery))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(server: server)) }
                }
                .bind(host: host, port: boundPort).get()
            if channels.isEmpty, let address = channel.localAddress {
                boundPort = address.port ?? port
                onBound(address)
            }
            channels.append(channel)
        }
        server.logger.info("DNS over UDP ready", metadata: ["address": "\(host):\(boundPort)", "sockets": "\(channels.count)"])
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
    }
}

/// The TCP side: length-prefixed messages (RFC 1035 §4.2.2), several queries per connection
/// (RFC 7766), zone transfers, an idle timeout, and a bound on open connections.
struct TCPListener: Service {
    let server: NameServer
    let host: String
    let port: Int
    let idleTimeout: Duration
    let maxConnections: Int

    func run() async throws {
        let server = self.server
        let idle = TimeAmount.nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000 + idleTimeout.components.attoseconds / 1_000_000_000)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AvailableConnectionsChannelHandler(maxConnections: maxConnections))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(server: server))
                }
            }
            .bind(host: host, port: port).get()
        server.logger.info("DNS over TCP ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private var batch: AnswerBatch

    init(server: NameServer) {
        batch = AnswerBatch(server: server)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        batch.start(on: context.eventLoop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let answer = batch.answering?.answer(to: envelope.data, from: envelope.remoteAddress, over: .udp, allocator: context.channel.allocator) else {
            return
        }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: answer)), promise: nil)
        batch.pending = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        batch.finish(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram that could not be sent (the client went away) must not close the socket.
    }
}

final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var batch: AnswerBatch

    init(server: NameServer) {
        batch = AnswerBatch(server: server)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        batch.start(on: context.eventLoop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let messages: [[UInt8]]
        switch batch.answering?.reply(to: unwrapInboundIn(data), from: context.channel.remoteAddress, over: .tcp) {
        case .none, .some(.none):
            context.close(promise: nil)
            return
        case .message(let message): messages = [message]
        case .transfer(let transfer): messages = transfer
        }
        for message in messages {
            var buffer = context.channel.allocator.buffer(capacity: message.count + 2)
            buffer.writeInteger(UInt16(message.count))
            buffer.writeBytes(message)
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
        batch.pending = true
    }

    /// Answers to pipelined queries go out together, once per read.
    func channelReadComplete(context: ChannelHandlerContext) {
        batch.finish(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

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

/// Splits a TCP stream into DNS messages by their two-byte length prefix.
struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self), buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
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
