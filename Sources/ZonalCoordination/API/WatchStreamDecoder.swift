import Foundation
import NIOCore

/// Reads etcd's watch stream as its JSON gateway sends it: one JSON object per line, in chunks
/// cut anywhere. Every byte comes from the network, so a line may be anything: what is not a
/// watch message, a line longer than ``maximumLineBytes``, a compaction or a cancellation ends
/// the watch with an error that says which; nothing is guessed.
public struct WatchStreamDecoder {
    /// The longest line taken: etcd's largest request (1.5 MiB of value, base64 and framed)
    /// fits many times over; an endless line is a broken or hostile peer.
    public static let maximumLineBytes = 16 << 20

    /// The revision the watch asked for, for the compaction error.
    public let requestedRevision: Int64
    private var pending = ByteBuffer()

    public init(requestedRevision: Int64) {
        self.requestedRevision = requestedRevision
    }

    /// Takes the next chunk and returns the events of every line it completes, in order.
    public mutating func feed(_ chunk: ByteBuffer) throws(CoordinatorError) -> [WatchEvent] {
        pending.writeImmutableBuffer(chunk)
        var events: [WatchEvent] = []
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            guard let line = pending.readSlice(length: newline - pending.readerIndex) else { break }
            pending.moveReaderIndex(forwardBy: 1)
            events += try decode(line)
        }
        guard pending.readableBytes <= Self.maximumLineBytes else {
            throw .badAnswer("a watch message is longer than \(Self.maximumLineBytes) bytes")
        }
        pending.discardReadBytes()
        return events
    }

    private func decode(_ line: ByteBuffer) throws(CoordinatorError) -> [WatchEvent] {
        guard line.readableBytes > 0 else { return [] }
        let message: Gateway.WatchResponse
        do { message = try JSONDecoder().decode(Gateway.WatchResponse.self, from: Data(buffer: line)) } catch {
            throw .badAnswer("a watch message is not JSON etcd sends: \(error)")
        }
        if let error = message.error { throw .rejected(error.message ?? error.error ?? "watch failed") }
        guard let result = message.result else { return [] }
        if let compacted = result.compact_revision?.value, compacted > 0 {
            throw .compacted(requested: requestedRevision, compactedThrough: compacted - 1)
        }
        if result.canceled == true { throw .rejected("watch canceled: \(result.cancel_reason ?? "no reason given")") }
        return (result.events ?? []).map { event in
            var keyValue = event.kv.model
            if event.type == "DELETE" {
                keyValue.value = []
                keyValue.createRevision = 0
                keyValue.version = 0
            }
            return WatchEvent(kind: event.type == "DELETE" ? .delete : .put, keyValue: keyValue)
        }
    }
}
