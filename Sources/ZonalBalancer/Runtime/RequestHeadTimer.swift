import NIOCore

/// Guards the wait for a request head, below the HTTP decoder where raw bytes are visible:
/// an idle kept-alive connection is closed after the keep-alive timeout, and a client that has
/// started a request must finish its head within the header timeout or get 408 (slowloris).
///
/// Deadlines move with every request, but the timer does not: one pending check per
/// connection, re-armed only when it fires early, so a busy connection schedules nothing per
/// request.
final class RequestHeadTimer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for a head since `since`; `started` once its first byte arrived. The first
        /// head of a connection gets the header timeout even before any byte.
        case awaitingHead(since: NIODeadline, started: NIODeadline?, first: Bool)
        /// A request is being handled; its body may take as long as it takes.
        case inRequest
    }

    private let headerTimeout: TimeAmount
    private let keepAliveTimeout: TimeAmount
    private var state = State.inRequest
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var context: ChannelHandlerContext?

    init(headerTimeout: Duration, keepAliveTimeout: Duration) {
        self.headerTimeout = .nanoseconds(headerTimeout.nanoseconds)
        self.keepAliveTimeout = .nanoseconds(keepAliveTimeout.nanoseconds)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let now = NIODeadline.now()
        state = .awaitingHead(since: now, started: nil, first: true)
        checkNoLaterThan(now + headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .awaitingHead(let since, nil, let first) = state {
            let now = NIODeadline.now()
            state = .awaitingHead(since: since, started: now, first: first)
            checkNoLaterThan(now + headerTimeout)
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// A complete head arrived.
    func headReceived() {
        state = .inRequest
    }

    /// The response went out; the connection waits for its next request.
    func awaitNextHead() {
        let now = NIODeadline.now()
        state = .awaitingHead(since: now, started: nil, first: false)
        checkNoLaterThan(now + min(headerTimeout, keepAliveTimeout))
    }

    /// Makes sure a check runs by `deadline`; an earlier pending check is enough.
    private func checkNoLaterThan(_ deadline: NIODeadline) {
        if let timerAt, timerAt <= deadline { return }
        timer?.cancel()
        guard let context else { return }
        timerAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerAt = nil
        guard let context, case .awaitingHead(let since, let started, let first) = state else { return }
        let now = NIODeadline.now()
        if let started {
            guard now >= started + headerTimeout else { return checkNoLaterThan(started + headerTimeout) }
            let body = ProxyError.requestTimeout.body
            let response = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            let limit = since + (first ? headerTimeout : keepAliveTimeout)
            guard now >= limit else { return checkNoLaterThan(limit) }
            context.close(promise: nil)
        }
    }
}
