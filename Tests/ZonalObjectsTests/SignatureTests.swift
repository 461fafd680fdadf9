import Crypto
import Foundation
import NIOCore
import Testing

@testable import ZonalObjects

/// Signature V4 checked against the examples AWS publishes for S3 ("Signature Calculations for
/// the Authorization Header", "Query String Authentication", "Transferring Payload in Multiple
/// Chunks"): the same keys, times and requests must give the same signatures.
@Suite("Signature V4")
struct SignatureTests {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let signedAt = RequestAuthenticator.parseTimestamp("20130524T000000Z")!
    let authenticator = RequestAuthenticator(region: "us-east-1")

    func secretOf(_ key: String) -> String? { key == Self.accessKey ? Self.secret : nil }

    func getObjectRequest(signature: String = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", range: String = "bytes=0-9") throws
        -> S3Request
    {
        try S3Request(
            method: "GET", rawPath: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", range),
                ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), ("x-amz-date", "20130524T000000Z"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=\(signature)"
                ),
            ])
    }

    @Test("AWS's GET Object example authenticates; any change to a signed part does not")
    func headerSignature() throws {
        let identity = try authenticator.authenticate(try getObjectRequest(), now: Self.signedAt, secret: secretOf)
        #expect(identity.accessKey == Self.accessKey)
        #expect(identity.payload == .sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(throws: S3Error(.signatureDoesNotMatch)) {
            try authenticator.authenticate(try getObjectRequest(range: "bytes=0-10"), now: Self.signedAt, secret: secretOf)
        }
        let replayed = try getObjectRequest(signature: String(repeating: "0", count: 64))
        #expect(throws: S3Error(.signatureDoesNotMatch)) { try authenticator.authenticate(replayed, now: Self.signedAt, secret: secretOf) }
        #expect(throws: S3Error(.invalidAccessKeyID)) { try authenticator.authenticate(try getObjectRequest(), now: Self.signedAt, secret: { _ in nil }) }
        #expect(throws: S3Error(.requestTimeTooSkewed)) {
            try authenticator.authenticate(try getObjectRequest(), now: Self.signedAt.addingTimeInterval(16 * 60), secret: secretOf)
        }
        let elsewhere = RequestAuthenticator(region: "east")
        #expect(throws: S3Error.self) { try elsewhere.authenticate(try getObjectRequest(), now: Self.signedAt, secret: secretOf) }
    }

    @Test("AWS's presigned URL example authenticates until it expires")
    func presignedURL() throws {
        let query =
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        let request = try S3Request(method: "GET", rawPath: "/test.txt", rawQuery: query, headers: [("host", "examplebucket.s3.amazonaws.com")])
        let identity = try authenticator.authenticate(request, now: Self.signedAt.addingTimeInterval(3600), secret: secretOf)
        #expect(identity.payload == .unsigned)
        #expect(throws: S3Error(.accessDenied, "Request has expired")) {
            try authenticator.authenticate(request, now: Self.signedAt.addingTimeInterval(86401), secret: secretOf)
        }
        let longer = try S3Request(
            method: "GET", rawPath: "/test.txt", rawQuery: query.replacingOccurrences(of: "86400", with: "999999999"), headers: [("host", "x")])
        #expect(throws: S3Error.self) { try authenticator.authenticate(longer, now: Self.signedAt, secret: secretOf) }
    }

    @Test("AWS's chunked upload example: the seed and every chunk signature verify, a changed byte does not")
    func chunkedUpload() throws {
        let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        let request = try S3Request(
            method: "PUT", rawPath: "/examplebucket/chunkObject.txt",
            headers: [
                ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=\(seed)"
                ),
            ])
        let identity = try authenticator.authenticate(request, now: Self.signedAt, secret: secretOf)
        guard case .signedChunks(let signing) = identity.payload else {
            Issue.record("not read as signed chunks: \(identity.payload)")
            return
        }
        func body(corrupt: Bool) -> ByteBuffer {
            var text = "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
            text += String(repeating: "a", count: 65536) + "\r\n"
            text += "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
            text += String(repeating: corrupt ? "b" : "a", count: 1024) + "\r\n"
            text += "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
            return ByteBuffer(string: text)
        }
        var decoder = AWSChunkedDecoder(signing: signing)
        var input = body(corrupt: false)
        var decoded = 0
        // Fed in small pieces, as the network delivers it.
        while input.readableBytes > 0 {
            var piece = input.readSlice(length: min(777, input.readableBytes))!
            decoded += try decoder.decode(&piece).reduce(0) { $0 + $1.readableBytes }
        }
        try decoder.finish()
        #expect(decoded == 66560)
        var bad = AWSChunkedDecoder(signing: signing)
        var corrupted = body(corrupt: true)
        #expect(throws: S3Error.self) { _ = try bad.decode(&corrupted) }
    }

    @Test("unsigned aws-chunked bodies with a checksum trailer; broken framing is refused")
    func unsignedTrailer() throws {
        var decoder = AWSChunkedDecoder(signing: nil)
        var input = ByteBuffer(string: "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n")
        let data = try decoder.decode(&input)
        try decoder.finish()
        #expect(data.map { String(buffer: $0) }.joined() == "hello")
        #expect(decoder.trailers["x-amz-checksum-crc32"] == "NhCmhg==")
        for broken in ["zz\r\nhello\r\n", "5\r\nhello!!\r\n", "5\nhello\r\n", "ffffffffffffffff\r\n"] {
            var decoder = AWSChunkedDecoder(signing: nil)
            var input = ByteBuffer(string: broken)
            #expect(throws: S3Error.self, "\(broken.debugDescription)") { _ = try decoder.decode(&input) }
        }
        var short = AWSChunkedDecoder(signing: nil)
        var truncated = ByteBuffer(string: "5\r\nhel")
        _ = try short.decode(&truncated)
        #expect(throws: S3Error.self) { try short.finish() }
    }

    @Test("checksums: CRC-32 and CRC-32C of the standard check string")
    func checksums() {
        func value(_ algorithm: PayloadChecksum.Algorithm, _ text: String) -> String {
            var checksum = PayloadChecksum(algorithm)
            Array(text.utf8).withUnsafeBytes { checksum.update($0) }
            return checksum.finalize().base64
        }
        #expect(Data(base64Encoded: value(.crc32, "123456789"))?.hex == "cbf43926")
        #expect(Data(base64Encoded: value(.crc32c, "123456789"))?.hex == "e3069283")
        #expect(value(.crc32, "hello") == "NhCmhg==")
        #expect(value(.sha256, "") == Data(SHA256.hash(data: [UInt8]())).base64EncodedString())
    }
}
