import Logging
import NIOCore
import NIOPosix

/// Sends NOTIFY to a zone's secondaries from the server's own address (which their ACLs
/// name), each tried a few times until it acknowledges.
struct Notifier {
    let localHost: String
    let logger: Logger
    /// Sends per secondary before giving up; the secondary's own refresh timer is the backstop.
    var attempts = 3
    var timeout = TimeAmount.seconds(1)

    func notify(zone: DNSName, soa: RecordData.SOA, targets: [(host: String, port: Int)]) async {
        await withDiscardingTaskGroup { group in
            for target in targets {
                group.addTask { await notify(zone: zone, soa: soa, target: target) }
            }
        }
    }

    private func notify(zone: DNSName, soa: RecordData.SOA, target: (host: String, port: Int)) async {
        let metadata: Logger.Metadata = ["zone": "\(zone)", "serial": "\(soa.serial)", "secondary": "\(target.host):\(target.port)"]
        for _ in 0..<attempts {
            let id = UInt16.random(in: 0...UInt16.max)
            do {
                if try await send(NotifyMessage.encode(id: id, zone: zone, soa: soa), id: id, to: target) {
                    logger.info("secondary acknowledged NOTIFY", metadata: metadata)
                    return
                }
            } catch {
                logger.warning("NOTIFY could not be sent", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                return
            }
        }
        logger.warning("secondary did not acknowledge NOTIFY; it catches up at its refresh time", metadata: metadata)
    }

    /// One NOTIFY on a fresh socket; true when acknowledged within the timeout.
    private func send(_ message: [UInt8], id: UInt16, to target: (host: String, port: Int)) async throws -> Bool {
        let address = try SocketAddress(ipAddress: target.host, port: target.port)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let acknowledged = loop.makePromise(of: Bool.self)
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcknowledgementHandler(id: id, acknowledged: acknowledged))
                }
            }
            .bind(host: localHost, port: 0).get()
        defer { channel.close(promise: nil) }
        // A promise ignores every completion after its first: the answer or the timeout wins.
        loop.scheduleTask(in: timeout) { acknowledged.succeed(false) }
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: message)))
        return try await acknowledged.futureResult.get()
    }
}

/// Completes the promise when the answer to the NOTIFY with this ID arrives.
private final class AcknowledgementHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let id: UInt16
    private let acknowledged: EventLoopPromise<Bool>

    init(id: UInt16, acknowledged: EventLoopPromise<Bool>) {
        self.id = id
        self.acknowledged = acknowledged
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if NotifyMessage.isAcknowledgement(Array(unwrapInboundIn(data).data.readableBytesView), id: id) { acknowledged.succeed(true) }
    }
}
