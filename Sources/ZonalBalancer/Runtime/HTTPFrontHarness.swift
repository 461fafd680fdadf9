import Logging
import NIOCore
import NIOEmbedded
import ZonalCore

/// Drives the client side of an HTTP listener (the HTTP/2 detector, head timer, HTTP/1.1 decoder,
/// pipelining, HTTP/2 frames and streams, screening, persistence cookie parsing, the balancer's
/// own answers) with arbitrary bytes, in
/// memory. It is public so the libFuzzer target in `Fuzz/` and the seeded tests can reach the
/// real pipeline, not a copy of it.
///
/// The pool's only server is unhealthy, so every well-formed request ends in the balancer's own
/// 503 and nothing leaves the process.
public enum HTTPFrontHarness {
    /// Feeds `chunks` in order, as separate reads, then the end of input; returns every byte
    /// the balancer wrote back.
    public static func feed(_ chunks: [[UInt8]]) -> [UInt8] {
        let channel = EmbeddedChannel()
        let server = Backend(host: "127.0.0.1", port: 9, zone: "z")
        let pool = BackendPool(plan: PoolPlan(name: "fuzz", backends: [server], persistence: .cookie(.init())))
        pool.setHealth(server.id, .unhealthy)
        var logger = Logger(label: "zonal.fuzz")
        logger.logLevel = .critical
        let environment = ClientConnectionHandler.Environment(
            pool: pool, settings: HTTPSpec(limits: .init(maxHeaderBytes: 4096, maxBodyBytes: 1 << 16)),
            caches: ServerConnectionCaches(), metrics: ProxyMetrics(listener: "fuzz", pool: "fuzz"), logger: logger
        )
        do {
            try HTTPProxy.configureClient(channel, environment: environment, http2: true)
            channel.connect(to: try SocketAddress(ipAddress: "192.0.2.1", port: 40000), promise: nil)
        } catch {
            preconditionFailure("the client pipeline could not be set up: \(error)")
        }
        var written: [UInt8] = []
        func collect() {
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
                written += buffer.readableBytesView
            }
        }
        for chunk in chunks where channel.isActive {
            _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
            collect()
        }
        if channel.isActive { channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        collect()
        _ = try? channel.finish()
        // Let the loop drop the timers the handlers cancelled, so nothing outlives the call.
        channel.embeddedEventLoop.run()
        try? channel.embeddedEventLoop.syncShutdownGracefully()
        return written
    }
}
