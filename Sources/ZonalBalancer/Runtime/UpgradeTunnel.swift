import NIOCore
import NIOHTTP1

/// Turns a client connection and its server connection into a byte relay once the server has
/// answered an `Upgrade` request with `101 Switching Protocols` (WebSocket, say): the HTTP
/// handlers leave both pipelines and a ``GlueHandler`` pair takes their place, as in TCP mode.
///
/// Both HTTP decoders stop parsing after the upgrade message and keep what arrives next; they
/// are removed last, so those bytes (a client's first frame sent right behind its request, a
/// server's first frame right behind its 101) reach the relay rather than being lost.
enum UpgradeTunnel {
    /// Rebuilds both pipelines; `idleTimeout` closes both ends after that long without a byte
    /// either way. Runs on the client's event loop, which is the server connection's.
    static func open(client: any Channel, server: ServerConnection, idleTimeout: Duration) throws {
        let clientGlue = GlueHandler()
        let serverGlue = GlueHandler()
        let clientPipeline = client.pipeline.syncOperations
        try clientPipeline.removeHandler(type: ClientConnectionHandler.self)
        try clientPipeline.removeHandler(type: NIOHTTPResponseHeadersValidator.self)
        try clientPipeline.removeHandler(type: HTTPResponseEncoder.self)
        try clientPipeline.removeHandler(type: RequestHeadTimer.self)
        try clientPipeline.addHandler(IdleStateHandler(allTimeout: .nanoseconds(idleTimeout.nanoseconds)))
        try clientPipeline.addHandler(clientGlue)
        let clientDecoderGone = client.eventLoop.makePromise(of: Void.self)
        try clientPipeline.removeHandler(type: ByteToMessageHandler<HTTPRequestDecoder>.self, promise: clientDecoderGone)

        let serverDecoderGone = client.eventLoop.makePromise(of: Void.self)
        try server.replaceHTTPHandlers(with: serverGlue, decoderGone: serverDecoderGone)

        clientGlue.pair(with: serverGlue)
        // A decoder hands over what it kept on a later turn of the loop, and with no read
        // completing after it nothing would flush those bytes to the other side.
        clientDecoderGone.futureResult.and(serverDecoderGone.futureResult).whenComplete { _ in
            client.flush()
            server.channel.flush()
        }
        // The HTTP handlers may have held back a read while the exchange was under way.
        client.read()
        server.channel.read()
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Removes the handler of type `type`, which must be in the pipeline; `promise` completes
    /// once it has left.
    func removeHandler<Handler: RemovableChannelHandler>(type: Handler.Type, promise: EventLoopPromise<Void>? = nil) throws {
        removeHandler(try handler(type: type), promise: promise)
    }
}
