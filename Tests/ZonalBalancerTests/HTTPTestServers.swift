import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import ZonalCore
import ZonalTesting

@testable import ZonalBalancer

/// An HTTP server for proxy tests: `/name` says who answered and what forwarding headers it
/// saw, `/echo` streams the request body back, `/bytes?n=` sends n bytes, `/slow?ms=` waits.
func startHTTPServer(name: String) async throws -> RunningListener {
    let router = Router()
    router.get("/name") { request, _ -> Response in
        var headers = HTTPFields()
        headers[.init("X-Server")!] = name
        headers[.init("X-Saw-Forwarded-For")!] = request.headers[.init("X-Forwarded-For")!] ?? "none"
        headers[.init("X-Saw-Forwarded")!] = request.headers[.init("Forwarded")!] ?? "none"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: name)))
    }
    router.post("/echo") { request, _ -> Response in
        Response(status: .ok, headers: [.init("X-Server")!: name], body: .init(asyncSequence: request.body))
    }
    router.get("/bytes") { request, _ -> Response in
        let count = request.uri.queryParameters.get("n", as: Int.self) ?? 0
        return Response(status: .ok, headers: [.init("X-Server")!: name], body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "z"), count: count)))
    }
    router.get("/slow") { request, _ -> Response in
        try await Task.sleep(for: .milliseconds(request.uri.queryParameters.get("ms", as: Int.self) ?? 100))
        return Response(status: .ok, headers: [.init("X-Server")!: name], body: .init(byteBuffer: ByteBuffer(string: name)))
    }
    router.get("/fail") { _, _ in Response(status: .internalServerError, headers: [.init("X-Server")!: name]) }
    return try await startListener { host, onBound in
        Application(
            router: router, configuration: .init(address: .hostname(host, port: 0)),
            onServerRunning: { channel in if let address = channel.localAddress { onBound(address) } },
            logger: Logger(label: "test.server.\(name)"))
    }
}

/// A server that accepts connections and hangs up as soon as a request arrives, like a server
/// crashing mid-request.
final class HangUpHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}

func startHangUpServer() async throws -> (channel: any Channel, host: String, port: Int) {
    let host = LoopbackAddress.random()
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { $0.pipeline.addHandler(HangUpHandler()) }
        .bind(host: host, port: 0).get()
    return (channel, host, channel.localAddress!.port!)
}

func startHTTPProxy(_ pool: BackendPool, settings: HTTPSpec = .init()) async throws -> RunningListener {
    try await startListener { host, onBound in
        HTTPProxy(name: "test", host: host, port: 0, pool: pool, settings: settings, logger: Logger(label: "test.proxy"), onBound: onBound)
    }
}

/// Sends raw bytes and returns what comes back until the proxy closes (or `timeout`).
func rawExchange(host: String, port: Int, _ request: String, closeOutput: Bool = false) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: request))
        if closeOutput { outbound.finish() }
        var received = ""
        for try await chunk in inbound { received += String(buffer: chunk) }
        return received
    }
}
