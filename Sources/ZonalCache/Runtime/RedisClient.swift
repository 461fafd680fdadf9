import NIOCore
import NIOPosix
import ZonalCore

/// A connection to one Redis server for the agent and the tests: commands in order, each
/// answered or failed within `timeout` (a server that stops answering closes the connection, so
/// one hung call never blocks the next).
public final class RedisClient: Sendable {
    private let channel: any Channel
    private let timeout: TimeAmount

    private init(channel: any Channel, timeout: TimeAmount) {
        self.channel = channel
        self.timeout = timeout
    }

    /// Connects and, with a password, authenticates (`AUTH`).
    public static func connect(host: String, port: Int, password: String?, timeout: Duration = .seconds(1)) async throws -> RedisClient {
        let amount = TimeAmount(timeout)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(amount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPValueDecoder(limits: .server)))
                    try channel.pipeline.syncOperations.addHandler(RedisClientHandler())
                }
            }
            .connect(host: host, port: port).get()
        let client = RedisClient(channel: channel, timeout: amount)
        if let password {
            do {
                _ = try await client.expectOK(["AUTH", password])
            } catch {
                await client.close()
                throw error
            }
        }
        return client
    }

    /// Sends one command and returns the reply; a Redis error reply is returned, not thrown.
    public func send(_ words: [String]) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        var command = channel.allocator.buffer(capacity: 64)
        command.writeRESPCommand(words)
        let buffer = command
        let channel = self.channel
        let timeout = self.timeout
        channel.eventLoop.execute {
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                promise.fail(CacheError.redis("no reply to \(words.first ?? "") within \(timeout.nanoseconds / 1_000_000) ms"))
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
            channel.writeAndFlush(RedisClientHandler.Request(buffer: buffer, reply: promise), promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Sends a command that must succeed; its reply, or an error naming Redis's.
    @discardableResult
    public func expectOK(_ words: [String]) async throws -> RESPValue {
        let reply = try await send(words)
        if case .error(let message) = reply {
            throw CacheError.redis("\(words.first ?? "") failed: \(message)")
        }
        return reply
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// Pairs each reply with the oldest command still waiting; fails them all when the connection ends.
final class RedisClientHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        var buffer: ByteBuffer
        var reply: EventLoopPromise<RESPValue>
    }

    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard context.channel.isActive else {
            request.reply.fail(CacheError.redis("the connection to Redis is closed"))
            return
        }
        waiting.append(request.reply)
        context.write(wrapOutboundOut(request.buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if case .push = value { return }
        waiting.popFirst()?.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(CacheError.redis("the connection to Redis closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(CacheError.redis("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: CacheError) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}

/// Splits a byte stream into RESP values.
struct RESPValueDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    let limits: RESPLimits

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try RESPValue.next(from: &buffer, limits: limits) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(value))
        return .continue
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }
}
