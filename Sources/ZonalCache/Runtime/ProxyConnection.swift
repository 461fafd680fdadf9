import Foundation
import Logging
import NIOCore
import NIOPosix
import ZonalCore

/// One client of the proxy and its server connection to the master.
///
/// Replies pair with commands in order, so the proxy counts the commands in flight. When the
/// master changes (its role key moves or vanishes) or its connection drops, every command in
/// flight is answered with `-MASTERDOWN` at once — a reply arriving later from the old master
/// is never passed on, so no write is acknowledged by a demoted master through the proxy.
/// New commands wait, up to `wait_for_master`, for the next master. A client whose state lives
/// on the server connection (`MULTI`, `WATCH`, blocking commands, pub/sub, `MONITOR`) is
/// disconnected instead of being moved.
final class ProxyConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Settings: Sendable {
        var cache: String
        var password: String
        var waitForMaster: TimeAmount
        var limits: RESPLimits
        var directory: MasterDirectory
        var logger: Logger
        var metrics: ProxyMetrics
    }

    /// The server connection, once connected.
    struct Upstream {
        var channel: any Channel
        var node: String
        var generation: Int
    }

    let settings: Settings
    private var context: ChannelHandlerContext?
    private var received: ByteBuffer?
    private var replies: ByteBuffer?
    private var authenticated = false
    private var protocolVersion = 2
    private var database = 0
    /// Server-side state a failover cannot carry over.
    private var sessionBound = false
    /// Pub/sub or `MONITOR`: replies no longer pair with commands and are relayed as they come.
    private var relaying = false
    private var upstream: Upstream?
    private var connecting = false
    private var generation = 0
    /// Commands waiting for a server connection.
    private var queue: [ByteBuffer] = []
    private var inFlight = 0
    /// Replies to the proxy's own set-up commands (`AUTH`, `HELLO`, `SELECT`) still to swallow.
    private var hiddenReplies = 0
    private var upstreamNeedsFlush = false
    private var waitingSince: NIODeadline?
    private var quitting = false
    private var subscription: Int?

    init(settings: Settings) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        settings.metrics.clients.increment()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        subscription = settings.directory.subscribe(.init(loop: context.eventLoop) { view in bound.value.masterChanged(view) })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let subscription { settings.directory.unsubscribe(subscription) }
        settings.metrics.clients.decrement()
        upstream?.channel.close(promise: nil)
        upstream = nil
        self.context = nil
    }

    // MARK: commands from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if quitting { return }
        if received == nil || received!.readableBytes == 0 {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        do {
            while !quitting, let request = try RESPRequest.next(from: &received!, limits: authenticated ? settings.limits : .unauthenticated) {
                handle(request, context: context)
            }
        } catch {
            reply(context) { $0.writeRESPError("ERR \(error)") }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
            return
        }
        if let received, received.readableBytes == 0 { self.received = nil }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamNeedsFlush, let upstream {
            upstream.channel.flush()
            upstreamNeedsFlush = false
        }
        context.flush()
    }

    private func handle(_ request: RESPRequest, context: ChannelHandlerContext) {
        let name = request.name
        // Before authentication nothing has gone to the server, so local replies keep their order.
        if !authenticated {
            switch name {
            case "AUTH":
                if checkPassword(request, from: 1) { authenticated = true }
                reply(context) { authenticated ? $0.writeRESPSimple("OK") : $0.writeRESPError("WRONGPASS invalid username-password pair or user is disabled.") }
                return
            case "HELLO":
                guard let authAt = (1..<request.arguments.count).first(where: { request.keyword($0) == "AUTH" }) else {
                    reply(context) {
                        $0.writeRESPError(
                            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
                        )
                    }
                    return
                }
                guard checkPassword(request, from: authAt + 1, userAndPassword: true) else {
                    reply(context) { $0.writeRESPError("WRONGPASS invalid username-password pair or user is disabled.") }
                    return
                }
                authenticated = true
            case "QUIT":
                quit(context)
                return
            default:
                reply(context) { $0.writeRESPError("NOAUTH Authentication required.") }
                return
            }
        }
        switch name {
        case "QUIT":
            quit(context)
            return
        case "HELLO":
            if let version = request.text(1), version == "2" || version == "3" { protocolVersion = Int(version)! }
        case "SELECT":
            if let index = request.text(1).flatMap(Int.init) { database = index }
        default:
            break
        }
        if CommandTraits.bindsSession(name) { sessionBound = true }
        if CommandTraits.relaysReplies(name) { relaying = true }
        forward(request.frame)
    }

    /// `AUTH password` or `AUTH default password` (the proxy has one user, as Redis without ACLs).
    private func checkPassword(_ request: RESPRequest, from index: Int, userAndPassword: Bool = false) -> Bool {
        let remaining = request.arguments.count - index
        let password: String?
        if remaining == 2 || userAndPassword {
            guard request.text(index) == "default" else { return false }
            password = request.text(index + 1)
        } else {
            password = remaining == 1 ? request.text(index) : nil
        }
        guard let password else { return false }
        return ConstantTime.equal(expected: settings.password, presented: password)
    }

    private func quit(_ context: ChannelHandlerContext) {
        quitting = true
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        if inFlight == 0, queue.isEmpty { finishQuit(context) }
    }

    private func finishQuit(_ context: ChannelHandlerContext) {
        reply(context) { $0.writeRESPSimple("OK") }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    private func reply(_ context: ChannelHandlerContext, _ write: (inout ByteBuffer) -> Void) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        write(&buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: the server connection

    private func forward(_ frame: ByteBuffer) {
        if let upstream {
            upstream.channel.write(frame, promise: nil)
            upstreamNeedsFlush = true
            if !relaying { inFlight += 1 }
            return
        }
        queue.append(frame)
        // Hold further input while there is no server: the queue stays one read long.
        context?.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        connect()
    }

    private func connect() {
        guard upstream == nil, !connecting, let context else { return }
        guard let master = settings.directory.view.master else {
            waitForMaster(context)
            return
        }
        connecting = true
        generation += 1
        let generation = self.generation
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.milliseconds(500))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyUpstreamHandler(owner: bound, generation: generation))
                }
            }
            .connect(host: master.host, port: master.port)
            .hop(to: context.eventLoop)
            .whenComplete { result in
                let connection = bound.value
                connection.connecting = false
                switch result {
                case .success(let channel):
                    connection.connected(channel, node: master.name, generation: generation)
                case .failure:
                    guard let context = connection.context else { return }
                    connection.waitForMaster(context)
                }
            }
    }

    private func connected(_ channel: any Channel, node: String, generation: Int) {
        guard generation == self.generation, let context, !queue.isEmpty || inFlight > 0 || !quitting else {
            channel.close(promise: nil)
            return
        }
        upstream = Upstream(channel: channel, node: node, generation: generation)
        waitingSince = nil
        var setup = channel.allocator.buffer(capacity: 128)
        setup.writeRESPCommand(["AUTH", settings.password])
        hiddenReplies = 1
        if protocolVersion == 3 {
            setup.writeRESPCommand(["HELLO", "3"])
            hiddenReplies += 1
        }
        if database != 0 {
            setup.writeRESPCommand(["SELECT", String(database)])
            hiddenReplies += 1
        }
        channel.write(setup, promise: nil)
        for frame in queue {
            channel.write(frame, promise: nil)
            if !relaying { inFlight += 1 }
        }
        queue.removeAll()
        channel.flush()
        if !quitting { context.channel.setOption(.autoRead, value: true).whenComplete { _ in } }
    }

    /// No master, or it cannot be reached: try again shortly, until `wait_for_master` has passed.
    private func waitForMaster(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let since = waitingSince ?? now
        waitingSince = since
        guard now - since < settings.waitForMaster else {
            waitingSince = nil
            let count = queue.count
            queue.removeAll()
            answerWithErrors(
                count, reason: "no_master", "MASTERDOWN no master of \(settings.cache) answered within \(settings.waitForMaster.nanoseconds / 1_000_000) ms",
                context)
            if sessionBound { closeAfterFlush(context) }
            context.channel.setOption(.autoRead, value: true).whenComplete { _ in }
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(20)) { bound.value.connect() }
    }

    /// The master changed: commands in flight to the old one fail now.
    func masterChanged(_ view: MasterDirectory.View) {
        guard let context else { return }
        if let upstream, upstream.node != view.master?.name {
            settings.metrics.masterChanges.increment()
            dropUpstream(
                reason: "master_changed",
                "MASTERDOWN master \(upstream.node) of \(settings.cache) was replaced by \(view.master?.name ?? "none yet") while the command was in flight; it may not have been applied",
                context)
        }
        if upstream == nil, !queue.isEmpty { connect() }
    }

    private func dropUpstream(reason: String, _ error: String, _ context: ChannelHandlerContext) {
        upstream?.channel.close(promise: nil)
        upstream = nil
        replies = nil
        hiddenReplies = 0
        generation += 1
        answerWithErrors(inFlight, reason: reason, error, context)
        inFlight = 0
        if sessionBound || quitting {
            closeAfterFlush(context)
        } else {
            context.flush()
        }
    }

    private func answerWithErrors(_ count: Int, reason: String, _ message: String, _ context: ChannelHandlerContext) {
        guard count > 0 else { return }
        settings.metrics.failedCommands(reason).increment(by: count)
        var buffer = context.channel.allocator.buffer(capacity: count * (message.utf8.count + 3))
        for _ in 0..<count { buffer.writeRESPError(message) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func closeAfterFlush(_ context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    // MARK: replies from the server

    func upstreamRead(_ bytes: ByteBuffer, generation: Int) {
        guard generation == self.generation, let context else { return }
        if relaying, hiddenReplies == 0, replies == nil {
            context.write(wrapOutboundOut(bytes), promise: nil)
            return
        }
        var bytes = bytes
        if replies == nil || replies!.readableBytes == 0 {
            replies = bytes
        } else {
            replies!.writeBuffer(&bytes)
        }
        do {
            try splitReplies(context)
        } catch {
            settings.logger.error("the master sent what is not RESP: \(error)")
            dropUpstream(reason: "bad_reply", "ERR zonal proxy: the master's reply could not be read (\(error))", context)
        }
    }

    /// Swallows the replies to the proxy's set-up commands, then forwards every complete reply
    /// in one slice and counts them off the commands in flight (pushes answer no command).
    private func splitReplies(_ context: ChannelHandlerContext) throws {
        while hiddenReplies > 0 {
            guard let length = try replies!.withUnsafeReadableBytes({ try RESPScanner.frameLength($0, limits: .server) }) else { return }
            let reply = replies!.readSlice(length: length)!
            if reply.getInteger(at: reply.readerIndex, as: UInt8.self) == UInt8(ascii: "-") {
                throw CacheError.redis("the master refused the proxy's set-up: \(String(buffer: reply).trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            hiddenReplies -= 1
        }
        if relaying {
            if replies!.readableBytes > 0 { context.write(wrapOutboundOut(replies!), promise: nil) }
            replies = nil
            return
        }
        var forward = 0
        var answered = 0
        try replies!.withUnsafeReadableBytes { bytes in
            while forward < bytes.count, let length = try RESPScanner.frameLength(UnsafeRawBufferPointer(rebasing: bytes[forward...]), limits: .server) {
                if bytes[forward] != UInt8(ascii: ">") { answered += 1 }
                forward += length
            }
        }
        inFlight = max(0, inFlight - answered)
        if forward > 0 { context.write(wrapOutboundOut(replies!.readSlice(length: forward)!), promise: nil) }
        if replies!.readableBytes == 0 { replies = nil }
        if quitting, inFlight == 0, queue.isEmpty { finishQuit(context) }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamClosed(generation: Int) {
        guard generation == self.generation, let context, let upstream else { return }
        dropUpstream(
            reason: "connection_lost",
            "MASTERDOWN connection to master \(upstream.node) of \(settings.cache) lost while the command was in flight; it may not have been applied", context)
    }

    /// The server connection cannot take more: stop reading the client until it can.
    func upstreamWritabilityChanged(_ writable: Bool, generation: Int) {
        guard generation == self.generation, !quitting else { return }
        context?.channel.setOption(.autoRead, value: writable).whenComplete { _ in }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        upstream?.channel.setOption(.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.channel.close(promise: nil)
        upstream = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent, !sessionBound, inFlight == 0 {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The server side of a ``ProxyConnection``: hands the master's bytes to its client.
final class ProxyUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let owner: NIOLoopBound<ProxyConnection>
    let generation: Int

    init(owner: NIOLoopBound<ProxyConnection>, generation: Int) {
        self.owner = owner
        self.generation = generation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.value.upstreamRead(unwrapInboundIn(data), generation: generation)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner.value.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        owner.value.upstreamClosed(generation: generation)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner.value.upstreamWritabilityChanged(context.channel.isWritable, generation: generation)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
