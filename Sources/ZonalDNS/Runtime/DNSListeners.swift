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
    static let readBatch = 32

    func run() async throws {
        var channels: [any Channel] = []
        var boundPort = port
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            let server = self.server
            let channel = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_REUSEPORT)), value: 1)
                .channelOption(.datagramVectorReadMessageCount, value: Self.readBatch)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536 * Self.readBatch / 16))
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

    private let server: NameServer
    private var pending = false
    private var cache = AnswerCache()

    init(server: NameServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let answer = envelope.data.withUnsafeReadableBytes { bytes -> [UInt8]? in
            if let hit = cache.lookup(bytes, over: .udp, generation: server.generation) {
                server.metrics.record(QueryResponder.Outcome(type: hit.type, code: hit.code))
                return AnswerCache.patch(hit, with: bytes)
            }
            let client = Authority.Client(address: envelope.remoteAddress.addressBytes, port: envelope.remoteAddress.port ?? 0)
            let response = QueryResponder.respond(to: Array(bytes), from: client, over: .udp, snapshot: server.snapshot)
            server.metrics.record(response.outcome)
            guard case .message(let message) = response.reply else { return nil }
            if case .sameQuestion = response.reuse { cache.store(message, for: bytes, over: .udp) }
            return message
        }
        guard let answer else { return }
        context.write(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))), promise: nil)
        pending = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pending { context.flush() }
        pending = false
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram that could not be sent (the client went away) must not close the socket.
    }
}

final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: NameServer

    init(server: NameServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let remote = context.channel.remoteAddress
        let client = Authority.Client(address: remote?.addressBytes ?? [], port: remote?.port ?? 0)
        let response = QueryResponder.respond(to: Array(frame.readableBytesView), from: client, over: .tcp, snapshot: server.snapshot)
        server.metrics.record(response.outcome)
        let messages: [[UInt8]]
        switch response.reply {
        case .none:
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
        context.flush()
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
