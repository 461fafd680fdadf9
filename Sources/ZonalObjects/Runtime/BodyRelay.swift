import NIOCore
import Synchronization

/// Hands the buffers of one request body to one outgoing request, holding at most `capacity`
/// bytes the consumer has not taken yet: a client upload streams to several storage nodes at
/// once, a node a little slower than the others costs no waiting, and memory per upload stays
/// bounded. When the queue is full `send` waits, and fails the relay as stalled once the
/// consumer has taken nothing for `stallTimeout` (a node that stopped without closing its
/// connection). When the consumer fails, the sender hears of it at its next `send`.
final class BodyRelay: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    private struct State {
        var queue = CircularBuffer<ByteBuffer>()
        var queuedBytes = 0
        var finished = false
        var failure: (any Error)?
        var waitingConsumer: CheckedContinuation<ByteBuffer?, any Error>?
        var waitingSender: CheckedContinuation<Void, any Error>?
        /// Counts the sender's waits, so a stall timer knows whether the wait it watches goes on.
        var waits = 0
    }

    /// A consumer that took nothing for the stall timeout while the queue was full.
    struct Stalled: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "the storage node took no data for \(timeout)" }
    }

    private let state = Mutex(State())
    let capacity: Int
    let stallTimeout: Duration

    init(capacity: Int = 4 << 20, stallTimeout: Duration) {
        self.capacity = capacity
        self.stallTimeout = stallTimeout
    }

    /// Queues `buffer`; waits while the queue is full. Throws once the consumer failed or stalled.
    func send(_ buffer: ByteBuffer) async throws {
        enum Next {
            case done
            case handed(CheckedContinuation<ByteBuffer?, any Error>)
            case wait
        }
        let next: Next = try state.withLock { state in
            if let failure = state.failure { throw failure }
            if let consumer = state.waitingConsumer {
                state.waitingConsumer = nil
                return .handed(consumer)
            }
            state.queue.append(buffer)
            state.queuedBytes += buffer.readableBytes
            return state.queuedBytes <= capacity ? .done : .wait
        }
        switch next {
        case .done: return
        case .handed(let consumer): consumer.resume(returning: buffer)
        case .wait:
            try await withCheckedThrowingContinuation { (sender: CheckedContinuation<Void, any Error>) in
                let watched: Int? = state.withLock { state in
                    if let failure = state.failure {
                        sender.resume(throwing: failure)
                        return nil
                    }
                    guard state.queuedBytes > capacity else {
                        sender.resume()
                        return nil
                    }
                    state.waits += 1
                    state.waitingSender = sender
                    return state.waits
                }
                if let watched {
                    Task { [stallTimeout] in
                        try? await Task.sleep(for: stallTimeout)
                        self.failIfStillWaiting(watched)
                    }
                }
            }
        }
    }

    /// The body ended: the consumer gets what is queued, then nil.
    func finish() {
        let consumer = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
            state.finished = true
            defer { state.waitingConsumer = nil }
            return state.queue.isEmpty ? state.waitingConsumer : nil
        }
        consumer?.resume(returning: nil)
    }

    /// The consumer gave up (its request failed), or the sender did: both sides' waits and
    /// next calls throw.
    func fail(_ error: any Error) {
        let (sender, consumer) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, CheckedContinuation<ByteBuffer?, any Error>?) in
            if state.failure == nil { state.failure = error }
            state.queue.removeAll()
            state.queuedBytes = 0
            defer {
                state.waitingSender = nil
                state.waitingConsumer = nil
            }
            return (state.waitingSender, state.waitingConsumer)
        }
        sender?.resume(throwing: error)
        consumer?.resume(throwing: error)
    }

    private func failIfStillWaiting(_ wait: Int) {
        let stalled = state.withLock { $0.waitingSender != nil && $0.waits == wait }
        if stalled { fail(Stalled(timeout: stallTimeout)) }
    }

    private func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (reader: CheckedContinuation<ByteBuffer?, any Error>) in
            let (result, sender): (Result<ByteBuffer?, any Error>?, CheckedContinuation<Void, any Error>?) = state.withLock { state in
                if let failure = state.failure { return (.failure(failure), nil) }
                if let buffer = state.queue.popFirst() {
                    state.queuedBytes -= buffer.readableBytes
                    var sender: CheckedContinuation<Void, any Error>?
                    if state.queuedBytes <= capacity, let waiting = state.waitingSender {
                        state.waitingSender = nil
                        sender = waiting
                    }
                    return (.success(buffer), sender)
                }
                if state.finished { return (.success(nil), nil) }
                state.waitingConsumer = reader
                return (nil, nil)
            }
            sender?.resume()
            if let result { reader.resume(with: result) }
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
