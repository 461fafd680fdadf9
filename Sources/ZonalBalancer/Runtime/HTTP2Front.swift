import NIOCore
import NIOHTTP1
import NIOHTTP2

/// HTTP/2 towards clients: every stream is one request, balanced on its own to a server over
/// HTTP/1.1 (as HAProxy and Envoy do) by the same ``ClientConnectionHandler`` that serves an
/// HTTP/1.1 connection, so limits, retries, persistence and forwarded headers apply per stream.
/// Flow control is NIOHTTP2's: a stream whose window is used up stops being writable, which
/// holds back reads from its server like a slow HTTP/1.1 client does.
enum HTTP2Front {
    /// The connection preface every HTTP/2 client sends first (RFC 9113 §3.4), over TLS after
    /// ALPN chose `h2` and in cleartext with prior knowledge.
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Sets `connection` up to speak HTTP/2.
    static func configure(_ connection: any Channel, environment: ClientConnectionHandler.Environment) throws {
        var settings = NIOHTTP2Handler.ConnectionConfiguration()
        // Heads above `max_header_size` get 431 per stream from the request screening; the
        // connection's own hard limit sits above it so that they reach it.
        settings.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 4 * environment.settings.limits.maxHeaderBytes),
        ]
        let idleTimer = HTTP2IdleTimer(
            connection: connection, headerTimeout: environment.settings.headerTimeout, keepAliveTimeout: environment.settings.keepAliveTimeout)
        _ = try connection.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: settings, streamConfiguration: .init(), streamDelegate: idleTimer
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(ClientConnectionHandler(environment: environment, headTimer: nil))
            }
        }
    }

    /// Streams one client may have open at once (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS).
    static let maxConcurrentStreams = 100
}

/// HTTP/1.1's keep-alive and slowloris rules for a connection of streams: an HTTP/2 client
/// connection with no open stream for the keep-alive timeout is closed, and one that opens no
/// stream within the header timeout of its start (a head sent a byte at a time never opens one).
final class HTTP2IdleTimer: NIOHTTP2StreamDelegate {
    private final class State {
        var openStreams = 0
        var closing: Scheduled<Void>?
    }

    private let connection: any Channel
    private let keepAliveTimeout: TimeAmount
    private let state: NIOLoopBound<State>

    init(connection: any Channel, headerTimeout: Duration, keepAliveTimeout: Duration) {
        self.connection = connection
        self.keepAliveTimeout = .nanoseconds(keepAliveTimeout.nanoseconds)
        state = NIOLoopBound(State(), eventLoop: connection.eventLoop)
        closeIfIdle(for: .nanoseconds(headerTimeout.nanoseconds))
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        let state = state.value
        state.openStreams += 1
        state.closing?.cancel()
        state.closing = nil
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        let state = state.value
        state.openStreams -= 1
        if state.openStreams == 0 { closeIfIdle(for: keepAliveTimeout) }
    }

    private func closeIfIdle(for time: TimeAmount) {
        let connection = connection
        state.value.closing = connection.eventLoop.scheduleTask(in: time) { connection.close(promise: nil) }
    }
}

/// Tells an HTTP/2 client from an HTTP/1.x one by the first bytes of the connection (the
/// preface, or anything else) and sets the connection up for what it speaks, then leaves. A
/// connection that has not said which within the header timeout is closed.
final class HTTPVersionDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let headerTimeout: TimeAmount
    private let configureHTTP1: (any Channel) throws -> Void
    private let configureHTTP2: (any Channel) throws -> Void
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?

    init(
        headerTimeout: Duration, configureHTTP1: @escaping (any Channel) throws -> Void, configureHTTP2: @escaping (any Channel) throws -> Void
    ) {
        self.headerTimeout = .nanoseconds(headerTimeout.nanoseconds)
        self.configureHTTP1 = configureHTTP1
        self.configureHTTP2 = configureHTTP2
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: headerTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = received {
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        let preface = HTTP2Front.preface
        let compared = min(bytes.readableBytes, preface.count)
        let isHTTP2 = bytes.readableBytesView.prefix(compared).elementsEqual(preface.prefix(compared))
        if isHTTP2 && compared < preface.count {
            received = bytes
            return
        }
        received = nil
        deadline?.cancel()
        do {
            try (isHTTP2 ? configureHTTP2 : configureHTTP1)(context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
