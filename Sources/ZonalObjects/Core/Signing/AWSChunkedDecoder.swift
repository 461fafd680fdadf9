import Crypto
import NIOCore
import ZonalBackup
import ZonalCore

/// Decodes an `aws-chunked` body as it arrives: `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`
/// chunks ending with a zero-sized one, then optional trailers (`x-amz-checksum-crc32:…`) and,
/// when signed, `x-amz-trailer-signature`. Each chunk's signature is chained from the previous
/// one (the first from the request's) and checked when the chunk ends; data is handed on as it
/// comes, so nothing may be committed before ``finish()`` succeeds.
public struct AWSChunkedDecoder: Sendable {
    private enum State: Sendable {
        case header
        case data(remaining: Int64, signature: String?)
        case dataEnd
        case trailers
        case done
    }

    private let signing: RequestAuthenticator.ChunkSigning?
    private var state = State.header
    private var line: [UInt8] = []
    private var previousSignature: String?
    private var chunkHash = SHA256()
    private var trailerText = ""
    /// The trailers received (lower-case names), checksums among them.
    public private(set) var trailers: [String: String] = [:]
    /// Data bytes decoded so far.
    public private(set) var decodedBytes: Int64 = 0

    /// Longest chunk header or trailer line accepted.
    static let maxLine = 4096
    /// Trailers accepted.
    static let maxTrailers = 8
    private static let emptyHash = SHA256.hash(data: [UInt8]()).hex

    /// `signing` nil: unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), which end with trailers.
    public init(signing: RequestAuthenticator.ChunkSigning?) {
        self.signing = signing
        self.previousSignature = signing?.seedSignature
    }

    public var isFinished: Bool {
        if case .done = state { return true }
        return false
    }

    /// The data in `input`, in order; throws on a framing error or a chunk whose signature fails.
    public mutating func decode(_ input: inout ByteBuffer) throws(S3Error) -> [ByteBuffer] {
        var output: [ByteBuffer] = []
        while input.readableBytes > 0 {
            switch state {
            case .header:
                guard let text = try readLine(&input) else { return output }
                try startChunk(text)
            case .data(let remaining, let signature):
                let count = Int(min(Int64(input.readableBytes), remaining))
                let slice = input.readSlice(length: count)!
                slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) }
                output.append(slice)
                decodedBytes += Int64(count)
                state = remaining == Int64(count) ? .dataEnd : .data(remaining: remaining - Int64(count), signature: signature)
                if case .dataEnd = state { try verifyChunk(signature) }
            case .dataEnd:
                guard let text = try readLine(&input) else { return output }
                guard text.isEmpty else { throw S3Error(.incompleteBody, "an aws-chunked chunk is longer than its size says") }
                state = .header
            case .trailers:
                guard let text = try readLine(&input) else { return output }
                try trailerLine(text)
            case .done:
                throw S3Error(.invalidRequest, "bytes follow the end of the aws-chunked body")
            }
        }
        return output
    }

    /// Fails unless the body ended where its framing says.
    public func finish() throws(S3Error) {
        guard isFinished else { throw S3Error(.incompleteBody, "the aws-chunked body ended before its final chunk") }
    }

    private mutating func readLine(_ input: inout ByteBuffer) throws(S3Error) -> String? {
        while let byte = input.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: "\n") {
                guard line.last == UInt8(ascii: "\r") else { throw S3Error(.invalidRequest, "an aws-chunked line does not end with CRLF") }
                let text = String(decoding: line.dropLast(), as: UTF8.self)
                line.removeAll(keepingCapacity: true)
                return text
            }
            line.append(byte)
            guard line.count <= Self.maxLine else { throw S3Error(.invalidRequest, "an aws-chunked header line is longer than \(Self.maxLine) bytes") }
        }
        return nil
    }

    private mutating func startChunk(_ header: String) throws(S3Error) {
        let parts = header.split(separator: ";", maxSplits: 1)
        guard let sizeText = parts.first, (1...15).contains(sizeText.utf8.count), let size = Int64(sizeText, radix: 16), size >= 0,
            size <= S3Limits.partBytes
        else { throw S3Error(.invalidRequest, "an aws-chunked chunk size is not a hex number up to 5 GiB") }
        var signature: String?
        if signing != nil {
            guard parts.count == 2, parts[1].hasPrefix("chunk-signature=") else {
                throw S3Error(.invalidRequest, "a signed aws-chunked chunk carries no chunk-signature")
            }
            signature = String(parts[1].dropFirst("chunk-signature=".count))
        }
        chunkHash = SHA256()
        if size == 0 {
            try verifyChunk(signature)
            state = .trailers
        } else {
            state = .data(remaining: size, signature: signature)
        }
    }

    private mutating func verifyChunk(_ signature: String?) throws(S3Error) {
        guard let signing, let previous = previousSignature else { return }
        let text = [
            "AWS4-HMAC-SHA256-PAYLOAD", signing.timestamp, signing.scope, previous, Self.emptyHash, chunkHash.finalize().hex,
        ].joined(separator: "\n")
        let expected = S3Signer.signature(text, key: signing.key)
        guard let signature, ConstantTime.equal(expected: expected, presented: signature) else {
            throw S3Error(.signatureDoesNotMatch, "the signature of an aws-chunked chunk does not match")
        }
        previousSignature = expected
    }

    private mutating func trailerLine(_ text: String) throws(S3Error) {
        if text.isEmpty {
            if signing?.trailer == true, trailers["x-amz-trailer-signature"] == nil {
                throw S3Error(.signatureDoesNotMatch, "the signed trailer carries no x-amz-trailer-signature")
            }
            state = .done
            return
        }
        if let signing, !signing.trailer {
            throw S3Error(.invalidRequest, "a trailer follows an aws-chunked body whose signature announced none")
        }
        guard let colon = text.firstIndex(of: ":") else { throw S3Error(.invalidRequest, "an aws-chunked trailer is not name:value") }
        let name = text[..<colon].lowercased()
        let value = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        if name == "x-amz-trailer-signature" {
            try verifyTrailer(value)
        } else {
            guard trailers.count < Self.maxTrailers else { throw S3Error(.invalidRequest, "more than \(Self.maxTrailers) aws-chunked trailers") }
            trailerText += "\(name):\(value)\n"
        }
        trailers[name] = value
    }

    private func verifyTrailer(_ signature: String) throws(S3Error) {
        guard let signing, let previous = previousSignature else {
            throw S3Error(.invalidRequest, "an unsigned aws-chunked body carries a trailer signature")
        }
        let text = ["AWS4-HMAC-SHA256-TRAILER", signing.timestamp, signing.scope, previous, SHA256.hash(data: Array(trailerText.utf8)).hex]
            .joined(separator: "\n")
        guard ConstantTime.equal(expected: S3Signer.signature(text, key: signing.key), presented: signature) else {
            throw S3Error(.signatureDoesNotMatch, "the aws-chunked trailer signature does not match")
        }
    }
}
