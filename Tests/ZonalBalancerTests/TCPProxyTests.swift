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
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            }
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
        let a = try await EchoServer.start(name: "a")
        let b = try await EchoServer.start(name: "b")
        let pool = BackendPool(
            plan: PoolPlan(
                name: "p",
                backends: [
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
        let pool = BackendPool(
            plan: PoolPlan(
                name: "p",
                backends: [
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
        let a1 = try await EchoServer.start(name: "a1")
        let a2 = try await EchoServer.start(name: "a2")
        let b1 = try await EchoServer.start(name: "b1")
        let pool = BackendPool(
            plan: PoolPlan(
                name: "p",
                backends: [
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

/// A client connection held open by a test, reading what arrives as it pleases.
final class HeldConnection: Sendable {
    /// Keeps what the connection reads, and whether it ended, for the test to take.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex<(received: [String], ended: Bool)>(([], false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            state.withLock { $0.received.append(text) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.ended = true }
        }
    }

    let channel: any Channel
    private let collector = Collector()

    init(host: String, port: Int) async throws {
        let collector = self.collector
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { $0.pipeline.addHandler(collector) }
            .connect(host: host, port: port).get()
    }

    func send(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)) }

    /// The next bytes, or nil when the connection ended; throws `Timeout` after `limit`.
    func next(within limit: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let (text, ended) = collector.state.withLock { state -> (String?, Bool) in
                state.received.isEmpty ? (nil, state.ended) : (state.received.removeFirst(), false)
            }
            if let text { return text }
            if ended { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Timeout()
    }

    func close() async { try? await channel.close() }

    struct Timeout: Error {}
}

@Suite("Layer-4 proxy under hostile clients")
struct TCPProxyLimitTests {
    func proxy(_ limits: ConnectionLimits, to server: EchoServer) async throws -> RunningListener {
        let pool = BackendPool(plan: PoolPlan(name: "p", backends: [Backend(id: "s", host: server.host, port: server.port, zone: "z")]))
        return try await startListener { host, onBound in
            TCPProxy(host: host, port: 0, pool: pool, limits: limits, logger: Logger(label: "test.proxy"), onBound: onBound)
        }
    }

    @Test("a connection silent both ways for the idle timeout is closed; one that talks stays")
    func idleTimeout() async throws {
        let server = try await EchoServer.start(name: "s")
        // Two seconds of idleness against 150 ms pauses of the talker: room for a loaded machine.
        let proxy = try await proxy(ConnectionLimits(tcpIdleTimeout: .seconds(2)), to: server)
        let silent = try await HeldConnection(host: proxy.host, port: proxy.port)
        let talking = try await HeldConnection(host: proxy.host, port: proxy.port)
        #expect(try await silent.next(within: .seconds(5)) == "s\n")
        #expect(try await talking.next(within: .seconds(5)) == "s\n")
        for round in 0..<16 {
            try await talking.send("r\(round)")
            #expect(try await talking.next(within: .seconds(5)) == "r\(round)")
            try await Task.sleep(for: .milliseconds(150))
        }
        #expect(try await silent.next(within: .seconds(10)) == nil, "the silent connection was not closed")
        try await talking.send("still")
        #expect(try await talking.next(within: .seconds(5)) == "still", "a talking connection was closed")
        await talking.close()
        try await proxy.stop()
    }

    @Test("beyond the connection cap new clients wait to be accepted until one leaves")
    func connectionCap() async throws {
        let server = try await EchoServer.start(name: "s")
        let proxy = try await proxy(ConnectionLimits(maxConnections: 2), to: server)
        let first = try await HeldConnection(host: proxy.host, port: proxy.port)
        let second = try await HeldConnection(host: proxy.host, port: proxy.port)
        #expect(try await first.next(within: .seconds(5)) == "s\n")
        #expect(try await second.next(within: .seconds(5)) == "s\n")
        // The third connects (the kernel's backlog takes it) but is not served yet.
        let third = try await HeldConnection(host: proxy.host, port: proxy.port)
        await #expect(throws: HeldConnection.Timeout.self) { try await third.next(within: .milliseconds(700)) }
        await first.close()
        #expect(try await third.next(within: .seconds(5)) == "s\n", "the waiting client was not served once one left")
        await second.close()
        await third.close()
        try await proxy.stop()
    }
}
