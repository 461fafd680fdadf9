import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ZonalCore
import ZonalObservability

/// Serves one client connection of an HTTP listener, or one HTTP/2 stream (whose codec hands it
/// the same request and response parts): each request goes to a server the pool
/// picks, over a kept-alive server connection, with bodies streamed both ways and reads held
/// back while the other side cannot take more.
///
/// A request whose server fails before answering is sent to another server when that cannot
/// do harm: always when nothing was sent yet (connect refused or timed out), and for idempotent
/// requests whose body is still held for replay. A request to switch protocols (WebSocket)
/// that the server accepts with `101` turns both connections into a byte relay
/// (``UpgradeTunnel``). Everything runs on the client's event loop.
final class ClientConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request bodies up to this size are kept until the server answers, so the request can be
    /// replayed on another server.
    static let replayLimit = 64 * 1024
    /// Body bytes held while a server is being connected before the client is read no further.
    static let connectBufferLimit = 256 * 1024

    struct Environment {
        let pool: BackendPool
        let settings: HTTPSpec
        let caches: ServerConnectionCaches
        let metrics: ProxyMetrics
        let logger: Logger
    }

    /// One request and its answer.
    private final class Exchange {
        let request: HTTPRequestHead
        let forwardedHead: HTTPRequestHead
        /// The protocol the client asks to switch to, if it does.
        let upgrade: String?
        let started = NIODeadline.now()
        /// Body parts not yet written to a server.
        var unsent: [ByteBuffer] = []
        var unsentBytes = 0
        /// Everything written to servers so far, while a replay is still possible; nil once not.
        var replay: [ByteBuffer]?
        var replayBytes = 0
        var bodyBytes = 0
        var requestEnded = false
        var backend: Backend?
        var server: ServerConnection?
        /// Whether any part of the request ever reached a server.
        var sentToServer = false
        var tried: Set<String> = []
        var attempts = 0
        /// Set after a reused connection failed: the next attempt connects afresh, since the
        /// other idle connections to that server may be just as stale.
        var freshConnection = false
        var response: HTTPResponseHead?
        var clientKeepsAlive: Bool
        var setCookie: String?

        init(request: HTTPRequestHead, forwardedHead: HTTPRequestHead, upgrade: String?) {
            self.request = request
            self.forwardedHead = forwardedHead
            self.upgrade = upgrade
            // Once a request asks to switch, the decoder reads no further request on this
            // connection: a refused switch ends it.
            self.clientKeepsAlive = request.isKeepAlive && upgrade == nil
            self.replay = ForwardedHeaders.isIdempotent(request.method) ? [] : nil
        }
    }

    private let environment: Environment
    /// The HTTP/1.1 connection's wait for each head; nil on an HTTP/2 stream, which the
    /// connection's ``HTTP2IdleTimer`` guards instead.
    private let headTimer: RequestHeadTimer?
    private var context: ChannelHandlerContext?
    private var cache: ServerConnectionCache?
    private var clientAddress = "unknown"
    private var exchange: Exchange?
    private var pendingRead = false
    /// Parts of pipelined requests that arrived while an earlier one was still being answered,
    /// served in order once it is; reads stop while they hold more than ``connectBufferLimit``.
    private var pipelined: [HTTPServerRequestPart] = []
    private var pipelinedBytes = 0
    /// The decoder's error about a pipelined request, answered once those before it are.
    private var pipelinedError: HTTPParserError?
    /// On an HTTP/2 stream answered before its request ended: body bytes still taken (and
    /// dropped) so that the client reads the answer rather than a reset; beyond this many the
    /// stream is reset after all.
    private var discardBudget: Int?
    /// Request bytes an answered HTTP/2 stream may still send before it is reset.
    static let discardLimit = 1 << 20

    init(environment: Environment, headTimer: RequestHeadTimer?) {
        self.environment = environment
        self.headTimer = headTimer
    }

    private var pool: BackendPool { environment.pool }

    // MARK: - Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        cache = environment.caches.cache(for: context.eventLoop)
        clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A client that leaves early frees its server connection: it is mid-exchange, never reusable.
        if let exchange { abandon(exchange) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data), context: context)
    }

    /// Handles one part of a request, or keeps it when it belongs to a request pipelined behind
    /// one still being answered. Reading on meanwhile, rather than pausing the socket after
    /// every request, saves re-arming it in the kernel each time.
    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if exchange != nil && isNewRequest(part) || !pipelined.isEmpty {
            if case .body(let bytes) = part { pipelinedBytes += bytes.readableBytes }
            pipelined.append(part)
            return
        }
        switch part {
        case .head(let head):
            headTimer?.headReceived()
            begin(head)
        case .body(let part):
            guard let exchange else {
                discard(part.readableBytes, context: context)
                return
            }
            exchange.bodyBytes += part.readableBytes
            let limit = environment.settings.limits.maxBodyBytes
            if limit > 0 && exchange.bodyBytes > limit {
                fail(exchange, .bodyTooLarge(limit: limit))
                return
            }
            if var replay = exchange.replay {
                exchange.replayBytes += part.readableBytes
                if exchange.replayBytes > Self.replayLimit {
                    exchange.replay = nil
                } else {
                    replay.append(part)
                    exchange.replay = replay
                }
            }
            if let server = exchange.server {
                server.write(.body(.byteBuffer(part)))
            } else {
                exchange.unsent.append(part)
                exchange.unsentBytes += part.readableBytes
            }
        case .end:
            guard let exchange else { return }
            exchange.requestEnded = true
            if let server = exchange.server {
                server.write(.end(nil))
                server.flush()
            }
        }
    }

    private func isNewRequest(_ part: HTTPServerRequestPart) -> Bool {
        if case .head = part { true } else { false }
    }

    /// Serves the pipelined parts kept while the previous request was answered.
    private func servePipelined() {
        guard let context, !pipelined.isEmpty || pipelinedError != nil else { return }
        let parts = pipelined
        pipelined = []
        pipelinedBytes = 0
        for part in parts { receive(part, context: context) }
        pipelinedBytes = pipelined.reduce(0) { total, part in
            if case .body(let bytes) = part { total + bytes.readableBytes } else { total }
        }
        if exchange == nil, pipelined.isEmpty, let error = pipelinedError {
            pipelinedError = nil
            refuse(error)
            return
        }
        resumeClientReads()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.server?.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // A request pipelined behind one being answered is malformed: that answer goes first.
        if let exchange, exchange.requestEnded || !pipelined.isEmpty {
            pipelinedError = parseError
            return
        }
        refuse(parseError)
    }

    /// Answers a malformed request with 400 (431 for an oversized head) and closes.
    private func refuse(_ parseError: HTTPParserError) {
        guard let context else { return }
        let refusal: ProxyError =
            parseError == .headerOverflow
            ? .headersTooLarge(size: environment.settings.limits.maxHeaderBytes + 1, limit: environment.settings.limits.maxHeaderBytes)
            : .badRequest("\(parseError)")
        if let exchange, exchange.response != nil {
            context.close(promise: nil)
            return
        }
        if let exchange { abandon(exchange) }
        environment.logger.debug("malformed request", metadata: ["client": "\(clientAddress)", "error": "\(parseError)"])
        respond(refusal, version: .http1_1, keepAlive: false)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // A client that closes while its request is under way has left, as far as HTTP can tell
        // (as in nginx): its server connection is freed at once rather than kept busy.
        if let exchange { abandon(exchange) }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if pipelinedBytes > Self.connectBufferLimit
            || exchange.map({ exchange in exchange.server.map { !$0.channel.isWritable } ?? (exchange.unsentBytes > Self.connectBufferLimit) }) == true
        {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.server?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    private func resumeClientReads() {
        guard pendingRead else { return }
        pendingRead = false
        context?.read()
    }

    // MARK: - Dispatch

    private func begin(_ head: HTTPRequestHead) {
        if let refusal = environment.settings.limits.screen(head) {
            respond(refusal, version: head.version, keepAlive: false)
            return
        }
        let upgrade = ForwardedHeaders.requestedUpgrade(head)
        let forwarded = ForwardedHeaders.request(head, clientAddress: clientAddress, scheme: environment.settings.scheme, upgrade: upgrade)
        let exchange = Exchange(request: head, forwardedHead: forwarded, upgrade: upgrade)
        self.exchange = exchange
        if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            context?.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        dispatch(exchange)
    }

    /// Sends `exchange` to a server: its persisted one if it can take it, else the pool's pick.
    private func dispatch(_ exchange: Exchange) {
        guard let backend = chooseServer(for: exchange) else {
            fail(exchange, .noServer(pool: pool.name))
            return
        }
        exchange.backend = backend
        exchange.attempts += 1
        claim(backend.id)
        if !exchange.freshConnection, let server = cache?.take(backend.id, idempotent: ForwardedHeaders.isIdempotent(exchange.request.method)) {
            attach(server, to: exchange)
            return
        }
        let settings = environment.settings
        guard let eventLoop = context?.eventLoop else { return }
        ServerConnection.connect(to: backend, on: eventLoop, connectTimeout: pool.requestPolicy.connectTimeout, idleTimeout: settings.serverTimeout)
            .assumeIsolatedUnsafeUnchecked()
            .whenComplete { [weak self] result in
                guard let self, self.exchange === exchange, exchange.backend?.id == backend.id, exchange.server == nil else {
                    if case .success(let server) = result { server.close() }
                    return
                }
                switch result {
                case .success(let server):
                    self.pool.recordSuccess(backend.id)
                    self.attach(server, to: exchange)
                case .failure(let error):
                    self.serverFailed(exchange, blame: true, reason: "connect to \(backend.id): \(error)")
                }
            }
    }

    private func chooseServer(for exchange: Exchange) -> Backend? {
        if exchange.tried.isEmpty, case .cookie(let cookie) = pool.requestPolicy.persistence {
            let now = Int(Date().timeIntervalSince1970)
            let found = cookie.find(in: exchange.request.headers[canonicalForm: "cookie"].map(String.init))
            if let found, cookie.isValid(found, now: now), let backend = pool.backend(forToken: found.token) {
                if cookie.needsRefresh(found, now: now) { exchange.setCookie = cookie.setCookie(token: backend.persistenceToken, now: now) }
                return backend
            }
            let chosen = pool.choose(client: clientAddress)
            exchange.setCookie = chosen.map { cookie.setCookie(token: $0.persistenceToken, now: now) }
            return chosen
        }
        let persistence = pool.requestPolicy.persistence
        if case .applicationCookie(let name) = persistence,
            let session = PersistenceCookie.value(of: name, in: exchange.request.headers[canonicalForm: "cookie"].map(String.init))
        {
            return pool.choose(hashing: "\(name)=\(session)", excluding: exchange.tried)
        }
        let chosen = pool.choose(client: clientAddress, excluding: exchange.tried)
        if case .cookie(let cookie) = persistence, let chosen {
            exchange.setCookie = cookie.setCookie(token: chosen.persistenceToken, now: Int(Date().timeIntervalSince1970))
        }
        return chosen
    }

    private func attach(_ server: ServerConnection, to exchange: Exchange) {
        exchange.server = server
        server.delegate = self
        server.write(.head(exchange.forwardedHead))
        // On a retry the replay copy holds everything; otherwise nothing was sent yet.
        for part in exchange.replay ?? exchange.unsent { server.write(.body(.byteBuffer(part))) }
        exchange.unsent = []
        exchange.unsentBytes = 0
        if exchange.requestEnded { server.write(.end(nil)) }
        exchange.sentToServer = true
        server.flush()
        resumeClientReads()
    }

    /// The server of `exchange` failed before any response byte: retry elsewhere if that is
    /// safe and allowed, else answer 502/503.
    /// One line per server per 10 s, however many requests a failing server fails.
    private static let serverFailures = RateLimitedLog()

    private func serverFailed(_ exchange: Exchange, blame: Bool, reason: String) {
        guard let backend = exchange.backend else { return }
        release(backend.id)
        if blame {
            pool.recordFailure(backend.id, reason: reason)
            exchange.tried.insert(backend.id)
        }
        let replayable = !exchange.sentToServer || exchange.replay != nil
        exchange.server = nil
        exchange.backend = nil
        Self.serverFailures.log(
            environment.logger, .notice, "server failed before answering", key: backend.id,
            metadata: [
                "pool": "\(pool.name)", "server": "\(backend.id)", "reason": "\(reason)",
                "retry": "\(replayable && exchange.attempts <= pool.requestPolicy.retries)",
            ])
        guard replayable, exchange.attempts <= pool.requestPolicy.retries else {
            fail(exchange, .serverFailed(reason))
            return
        }
        environment.metrics.retried(from: backend.id)
        dispatch(exchange)
    }

    /// A request is in flight to `server` (least-connections scheduling and the active gauge count it).
    private func claim(_ server: String) {
        pool.connectionOpened(to: server)
        environment.metrics.server(server).active.increment()
    }

    private func release(_ server: String) {
        pool.connectionClosed(to: server)
        environment.metrics.server(server).active.decrement()
    }

    // MARK: - Answers

    /// Answers `exchange` with the balancer's own error, or cuts the client off when a response
    /// is already under way.
    private func fail(_ exchange: Exchange, _ error: ProxyError) {
        let alreadyAnswering = exchange.response != nil
        abandon(exchange)
        if alreadyAnswering {
            context?.close(promise: nil)
            return
        }
        environment.metrics.requestFinished(server: nil, status: Int(error.status.code), nanoseconds: (NIODeadline.now() - exchange.started).nanoseconds)
        respond(error, version: exchange.request.version, keepAlive: exchange.requestEnded && exchange.request.isKeepAlive)
    }

    /// Ends `exchange` without reusing its server connection.
    private func abandon(_ exchange: Exchange) {
        exchange.server?.close()
        if let backend = exchange.backend { release(backend.id) }
        exchange.server = nil
        exchange.backend = nil
        if self.exchange === exchange { self.exchange = nil }
    }

    private func respond(_ error: ProxyError, version: HTTPVersion, keepAlive: Bool) {
        guard let context else { return }
        var head = HTTPResponseHead(version: version, status: error.status)
        head.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        head.headers.add(name: "Content-Length", value: "\(error.body.utf8.count)")
        head.headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { head.headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: error.body)))), promise: nil)
        finishResponse(keepAlive: keepAlive)
    }

    private func finishResponse(trailers: HTTPHeaders? = nil, keepAlive: Bool) {
        guard let context else { return }
        // Before the write: writing the end may hand over a pipelined request at once.
        if keepAlive { headTimer?.awaitNextHead() }
        let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
        guard !keepAlive else {
            servePipelined()
            return
        }
        if headTimer == nil {
            // An HTTP/2 stream ends when the client's request does; the connection carries on.
            discardBudget = Self.discardLimit
            return
        }
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Drops `count` body bytes of a request already answered, resetting the stream once too
    /// many came.
    private func discard(_ count: Int, context: ChannelHandlerContext) {
        guard let budget = discardBudget else { return }
        discardBudget = budget - count
        if budget - count < 0 { context.close(promise: nil) }
    }
}

// MARK: - Server side

extension ClientConnectionHandler: ServerConnectionDelegate {
    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    func server(_ connection: ServerConnection, received part: HTTPClientResponsePart) {
        guard let exchange, exchange.server === connection, let context else {
            connection.close()
            return
        }
        switch part {
        case .head(let head) where head.status == .switchingProtocols:
            guard exchange.upgrade != nil else {
                pool.recordFailure(connection.backend.id, reason: "101 Switching Protocols to a request that asked for no switch")
                fail(exchange, .serverFailed("unrequested 101 Switching Protocols"))
                return
            }
            exchange.response = head
            pool.recordSuccess(connection.backend.id)
            context.write(wrapOutboundOut(.head(ForwardedHeaders.switchingProtocols(head, version: exchange.request.version))), promise: nil)
        case .head(let head):
            exchange.response = head
            exchange.clientKeepsAlive =
                exchange.clientKeepsAlive && ForwardedHeaders.clientKeepsAlive(request: exchange.request, response: head)
            if head.status.code >= 500 {
                pool.recordFailure(connection.backend.id, reason: "status \(head.status.code)")
            } else {
                pool.recordSuccess(connection.backend.id)
            }
            var answer = ForwardedHeaders.response(head, version: exchange.request.version, keepAlive: exchange.clientKeepsAlive)
            if let cookie = exchange.setCookie { answer.headers.add(name: "Set-Cookie", value: cookie) }
            context.write(wrapOutboundOut(.head(answer)), promise: nil)
        case .body(let bytes):
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        case .end(let trailers):
            complete(exchange, connection: connection, trailers: trailers)
        }
    }

    private func complete(_ exchange: Exchange, connection: ServerConnection, trailers: HTTPHeaders?) {
        guard let response = exchange.response else { return }
        if response.status == .switchingProtocols {
            openTunnel(exchange, to: connection)
            return
        }
        let backend = connection.backend
        exchange.server = nil
        exchange.backend = nil
        self.exchange = nil
        release(backend.id)
        connection.delegate = nil
        connection.completedRequests += 1
        if exchange.requestEnded && exchange.upgrade == nil && ForwardedHeaders.serverKeepsAlive(response), let cache {
            cache.put(connection)
        } else {
            connection.close()
        }
        environment.metrics.requestFinished(
            server: backend.id, status: Int(response.status.code), nanoseconds: (NIODeadline.now() - exchange.started).nanoseconds)
        // A client still sending a body the server did not wait for cannot be read in step: close.
        finishResponse(trailers: trailers, keepAlive: exchange.clientKeepsAlive && exchange.requestEnded)
    }

    /// The server switched protocols: both connections become a relay. The relay counts as a
    /// request in flight to its server until it closes (least-connections scheduling).
    private func openTunnel(_ exchange: Exchange, to connection: ServerConnection) {
        guard let context else { return }
        exchange.server = nil
        exchange.backend = nil
        self.exchange = nil
        connection.delegate = nil
        let backend = connection.backend
        environment.metrics.requestFinished(server: backend.id, status: 101, nanoseconds: (NIODeadline.now() - exchange.started).nanoseconds)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        let client = context.channel
        let idleTimeout = environment.settings.tunnelTimeout
        // The handlers leave once the decoders' current read is over, not from within it.
        context.eventLoop.assumeIsolated().execute {
            client.closeFuture.assumeIsolated().whenComplete { _ in self.release(backend.id) }
            do {
                try UpgradeTunnel.open(client: client, server: connection, idleTimeout: idleTimeout)
            } catch {
                self.environment.logger.error("an upgraded connection could not become a relay", metadata: ["error": "\(error)"])
                connection.close()
                client.close(promise: nil)
            }
        }
    }

    func serverReadComplete(_ connection: ServerConnection) {
        if exchange?.server === connection { context?.flush() }
    }

    func serverClosed(_ connection: ServerConnection, error: (any Error)?) {
        guard let exchange, exchange.server === connection else { return }
        if exchange.response != nil {
            // The answer was cut off mid-way: the client must see it as incomplete, not as whole.
            abandon(exchange)
            context?.close(promise: nil)
            return
        }
        // A reused connection may have been closed by the server as it idled, or gone stale: not
        // the server's fault, and worth one attempt on a fresh connection that counts for nothing.
        let reused = connection.completedRequests > 0
        if reused && !exchange.freshConnection {
            exchange.freshConnection = true
            exchange.attempts -= 1
        }
        serverFailed(exchange, blame: !reused, reason: error.map { "\($0)" } ?? "connection closed before a response")
    }

    func serverTimedOut(_ connection: ServerConnection) {
        guard let exchange, exchange.server === connection else { return }
        pool.recordFailure(connection.backend.id, reason: "no answer within \(environment.settings.serverTimeout.zonalDescription)")
        fail(exchange, .serverTimeout)
    }

    func serverWritabilityChanged(_ connection: ServerConnection) {
        if connection.channel.isWritable, exchange?.server === connection { resumeClientReads() }
    }
}
