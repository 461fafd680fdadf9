import Hummingbird
import NIOCore
import Synchronization

/// A request body as the signature says to read it: raw bytes, or `aws-chunked` decoded (chunk
/// signatures checked as they pass). What the decoding learnt — that the body ended where its
/// framing says, and its trailers — is read from ``outcome`` once the body has been consumed.
struct PayloadBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    /// What the consumed body turned out to be.
    final class Outcome: Sendable {
        private let state = Mutex<(finished: Bool, trailers: [String: String])>((false, [:]))

        var finished: Bool { state.withLock { $0.finished } }
        var trailers: [String: String] { state.withLock { $0.trailers } }

        func record(finished: Bool, trailers: [String: String]) {
            state.withLock { $0 = (finished, trailers) }
        }
    }

    let body: RequestBody
    /// Nil for a raw body.
    let chunked: AWSChunkedDecoder?
    let outcome = Outcome()

    init(body: RequestBody, payload: RequestAuthenticator.Payload) {
        self.body = body
        switch payload {
        case .signedChunks(let signing): chunked = AWSChunkedDecoder(signing: signing)
        case .unsignedChunks: chunked = AWSChunkedDecoder(signing: nil)
        case .sha256, .unsigned: chunked = nil
        }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(source: body.makeAsyncIterator(), decoder: chunked, outcome: outcome)
    }

    struct Iterator: AsyncIteratorProtocol {
        var source: RequestBody.AsyncIterator
        var decoder: AWSChunkedDecoder?
        let outcome: Outcome
        var ready: [ByteBuffer] = []

        mutating func next() async throws -> ByteBuffer? {
            while true {
                if !ready.isEmpty { return ready.removeFirst() }
                guard var buffer = try await source.next() else {
                    if var decoder {
                        try decoder.finish()
                        outcome.record(finished: true, trailers: decoder.trailers)
                        self.decoder = decoder
                    } else {
                        outcome.record(finished: true, trailers: [:])
                    }
                    return nil
                }
                guard var decoder else { return buffer }
                ready = try decoder.decode(&buffer).filter { $0.readableBytes > 0 }
                self.decoder = decoder
            }
        }
    }
}
