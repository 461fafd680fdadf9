import NIOCore

/// Joins two channels on one event loop so that bytes read on one are written to the other,
/// with backpressure (a side reads only while its partner can write) and half-close (the end
/// of one side's input closes the other side's output, so request/response protocols that
/// shut down their sending half still get their answer).
///
/// Each channel gets its handler when it is created; until the two are paired neither side
/// reads, so nothing a client sends while its server is being connected is lost.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// What arrived before pairing (a server's greeting, say), relayed once paired.
    private var unpairedReads: [NIOAny] = []
    private var unpairedInputClosed = false

    init() {}

    /// Joins this handler's channel with `other`'s and starts the reads both have been holding back.
    func pair(with other: GlueHandler) {
        partner = other
        other.partner = self
        relayUnpaired()
        other.relayUnpaired()
        resumeReading()
        other.resumeReading()
    }

    private func relayUnpaired() {
        guard let partner else { return }
        for data in unpairedReads { partner.partnerWrite(data) }
        if !unpairedReads.isEmpty { partner.partnerFlush() }
        unpairedReads = []
        if unpairedInputClosed { partner.partnerWriteEOF() }
    }

    private func resumeReading() {
        if pendingRead, partner?.partnerWritable ?? false {
            pendingRead = false
            context?.read()
        }
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        // Whatever was relayed before the end must go out before the end does.
        context?.flush()
        context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let partner else {
            unpairedReads.append(data)
            return
        }
        partner.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if let partner { partner.partnerWriteEOF() } else { unpairedInputClosed = true }
        } else if event is IdleStateHandler.IdleStateEvent {
            // Nothing either way for the idle timeout: both ends go.
            partner?.partnerCloseFull()
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
