import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ZonalCoordination
import ZonalCore

/// Discovery the way Redis Sentinel offers it, so clients that already use Sentinel (redis-py,
/// Jedis, Lettuce) find the master unchanged: `SENTINEL get-master-addr-by-name`, `SENTINEL
/// masters|master|replicas|slaves|sentinels`, `ROLE`, `PING`, and `SUBSCRIBE +switch-master`,
/// answered from the ``MasterDirectory``. The master's name is the service's. Clients
/// authenticate with the service's password (`AUTH`), as with a Sentinel that has `requirepass`.
/// It only reads: Sentinel's commands that change anything are refused.
public struct SentinelListener: Service {
    let directory: MasterDirectory
    /// The Sentinel listeners of every node, reported as the other sentinels.
    let sentinels: [(host: String, port: Int)]
    let host: String
    let port: Int
    let password: String
    let logger: Logger

    /// The listener of the agent of `plan`'s node.
    public init(plan: CacheNodePlan, coordinator: any Coordinator, password: CachePassword, logger: Logger) {
        self.directory = MasterDirectory(service: plan.service, endpoints: plan.members, coordinator: coordinator, logger: logger)
        self.sentinels = plan.members.map { ($0.host, $0.sentinelPort) }
        self.host = plan.me.host
        self.port = plan.me.sentinelPort
        self.password = password.secret
        self.logger = logger
    }

    public func run() async throws {
        let following = Task { await directory.run() }
        defer { following.cancel() }
        let responder = SentinelResponder(directory: directory, sentinels: sentinels, me: (host, port), password: password)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AvailableConnectionsChannelHandler(maxConnections: 1024))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SentinelConnection(responder: responder))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("Sentinel-compatible discovery ready", metadata: ["address": "\(host):\(port)", "master": "\(directory.service)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// What a Sentinel answers, computed from the directory's view. Pure but for reading it.
struct SentinelResponder: Sendable {
    let directory: MasterDirectory
    let sentinels: [(host: String, port: Int)]
    let me: (host: String, port: Int)
    let password: String

    var name: String { directory.service }

    /// The reply to one `SENTINEL …` command.
    func sentinel(_ request: RESPRequest, into buffer: inout ByteBuffer) {
        let view = directory.view
        let sub = request.keyword(1) ?? ""
        let named = request.text(2)
        func requireName() -> Bool {
            guard named == name else {
                buffer.writeRESPError("ERR No such master with that name")
                return false
            }
            return true
        }
        switch sub {
        case "GET-MASTER-ADDR-BY-NAME":
            guard named == name, let master = view.master else {
                buffer.writeStaticString("*-1\r\n")
                return
            }
            buffer.writeRESPHeader("*", 2)
            buffer.writeRESPBulk(master.host)
            buffer.writeRESPBulk(String(master.port))
        case "MASTERS":
            let entry = masterFields(view)
            buffer.writeRESPHeader("*", entry == nil ? 0 : 1)
            if let entry { writeFields(entry, into: &buffer) }
        case "MASTER":
            guard requireName() else { return }
            guard let entry = masterFields(view) else {
                buffer.writeRESPError("ERR No such master with that name")
                return
            }
            writeFields(entry, into: &buffer)
        case "REPLICAS", "SLAVES":
            guard requireName() else { return }
            buffer.writeRESPHeader("*", view.replicas.count)
            for replica in view.replicas {
                writeFields(
                    [
                        ("name", "\(replica.host):\(replica.port)"), ("ip", replica.host), ("port", String(replica.port)), ("runid", replica.name),
                        ("flags", "slave"), ("master-link-status", "ok"), ("master-host", view.master?.host ?? "?"),
                        ("master-port", view.master.map { String($0.port) } ?? "0"), ("slave-priority", replica.promotable ? "100" : "0"),
                    ], into: &buffer)
            }
        case "SENTINELS":
            guard requireName() else { return }
            let others = sentinels.filter { $0.host != me.host || $0.port != me.port }
            buffer.writeRESPHeader("*", others.count)
            for other in others {
                writeFields(
                    [
                        ("name", "\(other.host):\(other.port)"), ("ip", other.host), ("port", String(other.port)), ("runid", "\(other.host):\(other.port)"),
                        ("flags", "sentinel"),
                    ],
                    into: &buffer)
            }
        case "MYID":
            buffer.writeRESPBulk("\(me.host):\(me.port)")
        default:
            buffer.writeRESPError(
                "ERR Zonal's Sentinel-compatible listener only answers discovery; failover is the agents' job (SENTINEL \(sub.lowercased()) is not supported)")
        }
    }

    /// The master as `SENTINEL masters` lists it; `s_down,o_down` while there is none.
    private func masterFields(_ view: MasterDirectory.View) -> [(String, String)]? {
        guard let master = view.master ?? view.previousMaster else { return nil }
        return [
            ("name", name), ("ip", master.host), ("port", String(master.port)), ("runid", master.name),
            ("flags", view.master == nil ? "master,s_down,o_down" : "master"), ("num-slaves", String(view.replicas.count)),
            ("num-other-sentinels", String(max(0, sentinels.count - 1))), ("quorum", String(sentinels.count / 2 + 1)),
            ("config-epoch", String(view.epoch)), ("role-reported", "master"),
        ]
    }

    private func writeFields(_ fields: [(String, String)], into buffer: inout ByteBuffer) {
        buffer.writeRESPHeader("*", fields.count * 2)
        for (key, value) in fields {
            buffer.writeRESPBulk(key)
            buffer.writeRESPBulk(value)
        }
    }

    /// `+switch-master <name> <old ip> <old port> <new ip> <new port>`, as Sentinel publishes it.
    func switchMessage(_ view: MasterDirectory.View) -> String? {
        guard let master = view.master else { return nil }
        let old = view.previousMaster ?? master
        return "\(name) \(old.host) \(old.port) \(master.host) \(master.port)"
    }
}

/// One client of the Sentinel listener.
final class SentinelConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let responder: SentinelResponder
    private var received: ByteBuffer?
    private var authenticated = false
    private var channels: Set<String> = []
    private var patterns: Set<String> = []
    private var subscription: Int?
    private var lastEpoch: Int

    init(responder: SentinelResponder) {
        self.responder = responder
        self.lastEpoch = responder.directory.view.epoch
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let subscription { responder.directory.unsubscribe(subscription) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        var out = context.channel.allocator.buffer(capacity: 256)
        do {
            while let request = try RESPRequest.next(from: &received!, limits: authenticated ? .client(maxBulkLength: 64 << 10) : .unauthenticated) {
                if !answer(request, into: &out, context: context) { break }
            }
        } catch {
            out.writeRESPError("ERR \(error)")
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// Answers one command; false when the connection is to close after the answer.
    private func answer(_ request: RESPRequest, into out: inout ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let name = request.name
        if name == "AUTH" {
            let password = request.arguments.count == 3 && request.text(1) == "default" ? request.text(2) : request.text(1)
            authenticated = password.map { ConstantTime.equal(expected: responder.password, presented: $0) } ?? false
            authenticated ? out.writeRESPSimple("OK") : out.writeRESPError("WRONGPASS invalid username-password pair or user is disabled.")
            return true
        }
        if name == "QUIT" {
            out.writeRESPSimple("OK")
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            out.clear()
            return false
        }
        guard authenticated else {
            out.writeRESPError("NOAUTH Authentication required.")
            return true
        }
        switch name {
        case "PING": out.writeRESPSimple("PONG")
        case "SENTINEL": responder.sentinel(request, into: &out)
        case "ROLE":
            out.writeRESPHeader("*", 2)
            out.writeRESPBulk("sentinel")
            out.writeRESPHeader("*", 1)
            out.writeRESPBulk(responder.name)
        case "CLIENT": out.writeRESPSimple("OK")
        case "INFO":
            let view = responder.directory.view
            let address = view.master.map { "\($0.host):\($0.port)" } ?? "0.0.0.0:0"
            out.writeRESPBulk(
                "# Sentinel\r\nsentinel_masters:1\r\nmaster0:name=\(responder.name),status=\(view.master == nil ? "sdown" : "ok"),address=\(address),slaves=\(view.replicas.count),sentinels=\(responder.sentinels.count)\r\n"
            )
        case "SUBSCRIBE", "PSUBSCRIBE":
            subscribe(request, patterns: name == "PSUBSCRIBE", into: &out, context: context)
        default:
            out.writeRESPError("ERR unknown command '\(request.text(0) ?? "")'")
        }
        return true
    }

    private func subscribe(_ request: RESPRequest, patterns isPattern: Bool, into out: inout ByteBuffer, context: ChannelHandlerContext) {
        for index in 1..<max(1, request.arguments.count) {
            guard let channel = request.text(index) else { continue }
            if isPattern { patterns.insert(channel) } else { channels.insert(channel) }
            out.writeRESPHeader("*", 3)
            out.writeRESPBulk(isPattern ? "psubscribe" : "subscribe")
            out.writeRESPBulk(channel)
            out.writeRESPInteger(channels.count + patterns.count)
        }
        guard subscription == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        subscription = responder.directory.subscribe(.init(loop: context.eventLoop) { view in bound.value.0.publish(view, context: bound.value.1) })
    }

    /// Sends `+switch-master` to a subscriber when the master moved.
    private func publish(_ view: MasterDirectory.View, context: ChannelHandlerContext) {
        guard view.epoch != lastEpoch, let message = responder.switchMessage(view) else { return }
        lastEpoch = view.epoch
        let channel = "+switch-master"
        var out = context.channel.allocator.buffer(capacity: 128)
        if channels.contains(channel) {
            out.writeRESPHeader("*", 3)
            out.writeRESPBulk("message")
            out.writeRESPBulk(channel)
            out.writeRESPBulk(message)
        }
        for pattern in patterns where pattern == "*" || pattern == channel || (pattern.hasSuffix("*") && channel.hasPrefix(pattern.dropLast())) {
            out.writeRESPHeader("*", 4)
            out.writeRESPBulk("pmessage")
            out.writeRESPBulk(pattern)
            out.writeRESPBulk(channel)
            out.writeRESPBulk(message)
        }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
