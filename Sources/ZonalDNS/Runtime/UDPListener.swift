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
