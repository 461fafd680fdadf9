import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay a test puts between one process and a server, to cut that one link (a network
/// partition of one node) and restore it, without touching anyone else's traffic.
public final class TCPRelay: Sendable {
    public let host: String
    public let port: Int
    private let target: SocketAddress
    private let server: any Channel
    private let state = RelayState()

    /// Listens on `host` (an ephemeral port) and relays every connection to `targetHost:targetPort`.
    public init(host: String, targetHost: String, targetPort: Int) async throws {
        self.target = try SocketAddress(ipAddress: targetHost, port: targetPort)
        let state = self.state
        let target = self.target
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                if state.lock.withLock({ $0.cut }) { return inbound.close() }
                inbound.setOption(.autoRead, value: false).whenSuccess {}
                return ClientBootstrap(group: inbound.eventLoop).connect(to: target).flatMap { outbound in
                    state.lock.withLock { $0.open += [inbound, outbound] }
                    return inbound.pipeline.addHandler(RelayHandler(peer: outbound)).flatMap {
                        outbound.pipeline.addHandler(RelayHandler(peer: inbound))
                    }.flatMap { inbound.setOption(.autoRead, value: true) }
                }
            }
            .bind(host: host, port: 0).get()
        self.host = host
        self.port = server.localAddress?.port ?? 0
    }

    /// Drops every relayed connection and refuses new ones until ``restore()``.
    public func cut() {
        let open = state.lock.withLock { state -> [any Channel] in
            state.cut = true
            defer { state.open = [] }
            return state.open
        }
        open.forEach { $0.close(promise: nil) }
    }

    public func restore() {
        state.lock.withLock { $0.cut = false }
    }

    public func close() async {
        cut()
        try? await server.close()
    }
}

private final class RelayState: Sendable {
    let lock = Mutex<(cut: Bool, open: [any Channel])>((false, []))
}

/// Writes what one side reads to the other, and closes the other side with it.
private final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let peer: any Channel

    init(peer: any Channel) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
