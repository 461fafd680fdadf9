import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import ZonalCore
import ZonalTesting
@testable import ZonalBalancer

/// A server that says its name, echoes what it reads, and shuts its output when the client shuts its own.
final class NamedEchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let name: String

    init(name: String) { self.name = name }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: name + "\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            context.close(mode: .output, promise: nil)
        }
    }
}

struct EchoServer {
    let channel: any Channel
    let host: String
    let port: Int

    static func start(name: String) async throws -> EchoServer {
        let host = LoopbackAddress.random()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { $0.pipeline.addHandler(NamedEchoHandler(name: name)) }
            .bind(host: host, port: 0).get()
        return EchoServer(channel: channel, host: host, port: channel.localAddress!.port!)
    }
}

/// A listener running for a test, stopped by `stop()`.
struct RunningListener {
    let host: String
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// Runs the listener `make` builds (given a host and the bound-address callback) on a random
/// loopback address and returns once it is bound.
func startListener(_ make: (String, @escaping @Sendable (SocketAddress) -> Void) -> any Service) async throws -> RunningListener {
    let host = LoopbackAddress.random()
    let bound = Mutex<Int?>(nil)
    let listener = make(host) { address in bound.withLock { $0 = address.port } }
    let group = ServiceGroup(configuration: .init(services: [listener], logger: Logger(label: "test.proxy")))
    let task = Task { try await group.run() }
    guard await poll(timeout: .seconds(10), until: { bound.withLock { $0 } != nil }) != nil, let port = bound.withLock({ $0 }) else {
        throw FixtureError("the listener did not bind")
    }
    return RunningListener(host: host, port: port, group: group, task: task)
}

func startProxy(_ pool: BackendPool) async throws -> RunningListener {
    try await startListener { host, onBound in
        TCPProxy(host: host, port: 0, pool: pool, logger: Logger(label: "test.proxy"), onBound: onBound)
    }
}

/// Sends `message`, closes the sending half, and returns everything received until the end.
func exchange(host: String, port: Int, message: String) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)) }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: message))
        outbound.finish()
        var received = ""
        for try await chunk in inbound { received += String(buffer: chunk) }
        return received
    }
}

@Suite("Layer-4 proxy")
struct TCPProxyTests {
    @Test("relays both ways with half-close, spreading connections by weight")
    func relay() async throws {
        let a = try await EchoServer.start(name: "a"), b = try await EchoServer.start(name: "b")
        let pool = BackendPool(configuration: PoolConfiguration(name: "p", backends: [
            Backend(id: "a", host: a.host, port: a.port, zone: "z"), Backend(id: "b", host: b.host, port: b.port, zone: "z"),
        ]))
        let proxy = try await startProxy(pool)
        var names: [String: Int] = [:]
        for index in 0..<10 {
            let answer = try await exchange(host: proxy.host, port: proxy.port, message: "ping \(index)")
            let lines = answer.split(separator: "\n", maxSplits: 1).map(String.init)
            #expect(lines.count == 2 && lines[1] == "ping \(index)", "\(answer)")
            names[lines[0], default: 0] += 1
        }
        #expect(names == ["a": 5, "b": 5])
        try await proxy.stop()
    }

    @Test("a dead server costs clients nothing: connections retry on another, and it is ejected")
    func deadServer() async throws {
        let live = try await EchoServer.start(name: "live")
        let dead = try await EchoServer.start(name: "dead")
        try await dead.channel.close()
        let pool = BackendPool(configuration: PoolConfiguration(name: "p", backends: [
            Backend(id: "dead", host: dead.host, port: dead.port, zone: "z"), Backend(id: "live", host: live.host, port: live.port, zone: "z"),
        ], outliers: .init(consecutiveFailures: 3)))
        let proxy = try await startProxy(pool)
        for index in 0..<30 {
            let answer = try await exchange(host: proxy.host, port: proxy.port, message: "m\(index)")

            #expect(answer == "live\nm\(index)", "connection \(index) got \(answer)")
        }
        #expect(pool.choose(client: "x", excluding: ["live"]) == nil, "the dead server should be ejected")
        try await proxy.stop()
    }

    @Test("traffic moves to the secondary zone only when the primary zone has no healthy server")
    func zoneFailover() async throws {
        let a1 = try await EchoServer.start(name: "a1"), a2 = try await EchoServer.start(name: "a2"), b1 = try await EchoServer.start(name: "b1")
        let pool = BackendPool(configuration: PoolConfiguration(name: "p", backends: [
            Backend(id: "a1", host: a1.host, port: a1.port, zone: "east-a"), Backend(id: "a2", host: a2.host, port: a2.port, zone: "east-a"),
            Backend(id: "b1", host: b1.host, port: b1.port, zone: "east-b"),
        ], primaryZone: "east-a", secondaryZone: "east-b"))
        let proxy = try await startProxy(pool)
        func servedBy() async throws -> String {
            String(try await exchange(host: proxy.host, port: proxy.port, message: "").dropLast())
        }
        #expect(["a1", "a2"].contains(try await servedBy()))
        pool.setHealth("a1", .unhealthy)
        for _ in 0..<4 { #expect(try await servedBy() == "a2") }
        pool.setHealth("a2", .unhealthy)
        for _ in 0..<4 { #expect(try await servedBy() == "b1") }
        #expect(pool.zoneSwitches.last?.to == .secondary)
        pool.setHealth("b1", .unhealthy)
        // No server: the connection is closed at once (a reset when the client's bytes are unread).
        let refused = try? await exchange(host: proxy.host, port: proxy.port, message: "x")
        #expect(refused == nil || refused == "", "no server, yet the client got \(refused ?? "")")
        try await proxy.stop()
    }
}
