import NIOCore

/// Guards the wait for a request head, below the HTTP decoder where raw bytes are visible:
/// an idle kept-alive connection is closed after the keep-alive timeout, and a client that has
/// started a request must finish its head within the header timeout or get 408 (slowloris).
final class RequestHeadTimer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for a head; `started` once its first byte arrived.
        case awaitingHead(started: Bool)
        /// A request is being handled; its body may take as long as it takes.
        case inRequest
    }

    private let headerTimeout: TimeAmount
    private let keepAliveTimeout: TimeAmount
    private var state = State.awaitingHead(started: false)
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(headerTimeout: Duration, keepAliveTimeout: Duration) {
        self.headerTimeout = .nanoseconds(headerTimeout.nanoseconds)
        self.keepAliveTimeout = .nanoseconds(keepAliveTimeout.nanoseconds)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A new connection gets the header timeout for its first head, whether or not it sends.
        arm(after: headerTimeout, answering: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .awaitingHead(started: false) = state {
            state = .awaitingHead(started: true)
            arm(after: headerTimeout, answering: true)
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// A complete head arrived.
    func headReceived() {
        timer?.cancel()
        state = .inRequest
    }

    /// The response went out; the connection waits for its next request.
    func awaitNextHead() {
        state = .awaitingHead(started: false)
        arm(after: keepAliveTimeout, answering: false)
    }

    private func arm(after delay: TimeAmount, answering: Bool) {
        timer?.cancel()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            self?.expire(answering: answering)
        }
    }

    private func expire(answering: Bool) {
        guard let context, case .awaitingHead(let started) = state else { return }
        if answering && started {
            let body = ProxyError.requestTimeout.body
            let response = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }
}
