import NIOCore
import Synchronization

/// Hands the buffers of one request body to one outgoing request, one at a time: `send`
/// returns once the consumer has taken the buffer, so a client upload streams to several
/// storage nodes at the pace of the slowest without buffering. When the consumer fails, the
/// sender hears of it at its next `send` instead of waiting forever.
final class BodyRelay: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    private enum Slot {
        case empty
        case full(ByteBuffer, CheckedContinuation<Void, any Error>)
        case finished
        case failed(any Error)
    }

    private struct State {
        var slot = Slot.empty
        var waitingConsumer: CheckedContinuation<ByteBuffer?, any Error>?
        /// Counts sends, so a stall timer knows whether the send it watches is still waiting.
        var sends = 0
    }

    /// A consumer that took nothing for the stall timeout while a buffer waited for it.
    struct Stalled: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "the storage node took no data for \(timeout)" }
    }

    private let state = Mutex(State())
    /// How long a buffer may wait for the consumer before the relay fails as stalled.
    let stallTimeout: Duration

    init(stallTimeout: Duration) {
        self.stallTimeout = stallTimeout
    }

    /// Waits until the consumer took `buffer`; throws once the consumer failed, or when it
    /// took nothing for ``stallTimeout`` (a node that stopped without closing its connection).
    func send(_ buffer: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (sent: CheckedContinuation<Void, any Error>) in
            var watched: Int?
            let consumer: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
                state.sends += 1
                switch state.slot {
                case .failed(let error):
                    sent.resume(throwing: error)
                    return nil
                case .finished, .full:
                    sent.resume(throwing: CancellationError())
                    return nil
                case .empty:
                    if let waiting = state.waitingConsumer {
                        state.waitingConsumer = nil
                        sent.resume()
                        return waiting
                    }
                    state.slot = .full(buffer, sent)
                    watched = state.sends
                    return nil
                }
            }
            consumer?.resume(returning: buffer)
            if let watched {
                Task { [stallTimeout] in
                    try? await Task.sleep(for: stallTimeout)
                    self.failIfStillWaiting(watched)
                }
            }
        }
    }

    private func failIfStillWaiting(_ send: Int) {
        let stalled = state.withLock { state -> Bool in
            guard case .full = state.slot else { return false }
            return state.sends == send
        }
        if stalled { fail(Stalled(timeout: stallTimeout)) }
    }

    /// The body ended: the consumer's next read returns nil.
    func finish() {
        let consumer = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
            if case .empty = state.slot { state.slot = .finished }
            defer { state.waitingConsumer = nil }
            return state.waitingConsumer
        }
        consumer?.resume(returning: nil)
    }

    /// The consumer gave up (its request failed): the sender's pending and next `send` throw.
    func fail(_ error: any Error) {
        let (sender, consumer) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, CheckedContinuation<ByteBuffer?, any Error>?) in
            var sender: CheckedContinuation<Void, any Error>?
            if case .full(_, let waiting) = state.slot { sender = waiting }
            state.slot = .failed(error)
            defer { state.waitingConsumer = nil }
            return (sender, state.waitingConsumer)
        }
        sender?.resume(throwing: error)
        consumer?.resume(throwing: error)
    }

    private func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (reader: CheckedContinuation<ByteBuffer?, any Error>) in
            let sender: (ByteBuffer, CheckedContinuation<Void, any Error>)? = state.withLock { state in
                switch state.slot {
                case .full(let buffer, let sender):
                    state.slot = .empty
                    return (buffer, sender)
                case .finished:
                    reader.resume(returning: nil)
                    return nil
                case .failed(let error):
                    reader.resume(throwing: error)
                    return nil
                case .empty:
                    state.waitingConsumer = reader
                    return nil
                }
            }
            if let (buffer, sender) = sender {
                sender.resume()
                reader.resume(returning: buffer)
            }
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let relay: BodyRelay

        mutating func next() async throws -> ByteBuffer? {
            try await relay.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(relay: self)
    }
}
