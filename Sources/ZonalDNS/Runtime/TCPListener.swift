import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

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
        case nil, .some(QueryResponder.Reply.none):
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
