import NIOCore
import NIOHTTP1
import NIOPosix

/// What a server connection reports to the client connection it is serving.
protocol ServerConnectionDelegate: AnyObject {
    func server(_ connection: ServerConnection, received part: HTTPClientResponsePart)
    func serverReadComplete(_ connection: ServerConnection)
    /// The connection closed or failed; `error` says why when it failed.
    func serverClosed(_ connection: ServerConnection, error: (any Error)?)
    func serverTimedOut(_ connection: ServerConnection)
    func serverWritabilityChanged(_ connection: ServerConnection)
    /// Whether the client can take more bytes; the server is read only while it can.
    var clientIsWritable: Bool { get }
}

/// One HTTP/1.1 connection to a server, carrying one client request at a time and kept open
/// for the next one. It lives on the event loop of the client connections that use it.
final class ServerConnection {
    let channel: any Channel
    let backend: Backend
    fileprivate let handler: ServerConnectionHandler
    /// Requests completed on this connection; above zero, a failure may just be the server
    /// closing an idle connection, which is not held against it.
    var completedRequests = 0
    var idleSince: NIODeadline = .now()
    /// Set once the cache watches this connection for a close, so it watches only once.
    var isWatchedByCache = false

    fileprivate init(channel: any Channel, backend: Backend, handler: ServerConnectionHandler) {
        self.channel = channel
        self.backend = backend
        self.handler = handler
        handler.connection = self
    }

    var delegate: (any ServerConnectionDelegate)? {
        get { handler.delegate }
        set {
            handler.delegate = newValue
            handler.resumeReading()
        }
    }

    var isUsable: Bool { channel.isActive && !handler.sawUnexpectedInput }

    func write(_ part: HTTPClientRequestPart) {
        channel.write(part, promise: nil)
    }

    func flush() {
        channel.flush()
    }

    func close() {
        handler.delegate = nil
        channel.close(promise: nil)
    }

    /// Takes the HTTP handlers out of the pipeline once the server switched protocols, with
    /// `relay` in their place; the decoder goes last so that bytes it kept reach `relay`, and
    /// `decoderGone` completes once it has handed them over.
    func replaceHTTPHandlers(with relay: any ChannelHandler, decoderGone: EventLoopPromise<Void>) throws {
        handler.delegate = nil
        let pipeline = channel.pipeline.syncOperations
        try pipeline.removeHandler(type: ServerConnectionHandler.self)
        try pipeline.removeHandler(type: IdleStateHandler.self)
        try pipeline.removeHandler(type: NIOHTTPRequestHeadersValidator.self)
        try pipeline.removeHandler(type: HTTPRequestEncoder.self)
        try pipeline.addHandler(relay)
        try pipeline.removeHandler(type: ByteToMessageHandler<HTTPResponseDecoder>.self, promise: decoderGone)
    }

    /// The client became writable again: read what the server sent meanwhile.
    func resumeReading() {
        handler.resumeReading()
    }

    /// Connects to `backend` on `eventLoop`; the future completes on that loop.
    static func connect(to backend: Backend, on eventLoop: any EventLoop, connectTimeout: Duration, idleTimeout: Duration) -> EventLoopFuture<ServerConnection>
    {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Bytes behind a 101 answer are kept for the relay that takes over (UpgradeTunnel).
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .nanoseconds(idleTimeout.nanoseconds)))
                    try channel.pipeline.syncOperations.addHandler(ServerConnectionHandler())
                }
            }
            .connect(host: backend.host, port: backend.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self)
                return ServerConnection(channel: channel, backend: backend, handler: handler)
            }
    }
}

/// Relays a server channel's events to the connection's delegate, and holds reads while the
/// client cannot take more.
private final class ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var delegate: (any ServerConnectionDelegate)?
    private var context: ChannelHandlerContext?
    /// The connection this handler serves; whoever uses or caches the connection keeps it alive.
    weak var connection: ServerConnection?
    private var pendingRead = false
    /// Bytes arrived while no request was in flight: the connection is out of step, never reuse it.
    private(set) var sawUnexpectedInput = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate, let connection else {
            sawUnexpectedInput = true
            context.close(promise: nil)
            return
        }
        delegate.server(connection, received: unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let delegate, let connection { delegate.serverReadComplete(connection) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let delegate, let connection { delegate.serverClosed(connection, error: nil) }
        delegate = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let delegate, let connection { delegate.serverClosed(connection, error: error) }
        delegate = nil
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if let delegate, let connection { delegate.serverTimedOut(connection) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let delegate, let connection { delegate.serverWritabilityChanged(connection) }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if delegate?.clientIsWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func resumeReading() {
        guard pendingRead, delegate?.clientIsWritable ?? true else { return }
        pendingRead = false
        context?.read()
    }
}
