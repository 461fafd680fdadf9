import Foundation
import NIOCore
import ZonalObjects

/// The parsers of the S3 front end.
extension ParserFuzzing {
    /// An S3 request as the front end reads it: the first line `METHOD path[?query]`, then
    /// `name: value` headers. Routing and Signature V4 answer or refuse with an S3 error; what
    /// they accept names a valid bucket and a key without control bytes or `..` segments.
    static let s3Request = Target(
        name: "s3-request",
        seeds: [
            "GET /bucket/key.txt\nhost: 127.0.0.1\nx-amz-date: 20130524T000000Z\nx-amz-content-sha256: UNSIGNED-PAYLOAD\nauthorization: AWS4-HMAC-SHA256 Credential=AK/20130524/east/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=0000000000000000000000000000000000000000000000000000000000000000",
            "GET /b1b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20130524%2Feast%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab\nhost: h",
            "PUT /b1b/a%2F..%2Fb?partNumber=1&uploadId=00000000000000000000000000000000\nhost: b.s3.test\nx-amz-copy-source: /src/%00",
            "POST /b1b?delete\nhost: x", "GET /?list-type=2&max-keys=-1&prefix=%zz", "DELETE /b1b/k?uploadId=zz",
            "PUT /b1b/k?tagging&versionId=null\nhost: x\nx-amz-tagging: a=1&a=2&%zz",
            "PUT /b1b/k\nhost: x\nx-zonal-replica-version-id: 000661b587a70220afcad270a9c16820\nx-amz-tagging: k=v",
        ].map { Array($0.utf8) }
    ) { bytes in
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let start = lines.first.map { $0.split(separator: " ", maxSplits: 1) } ?? []
        let target = start.count > 1 ? start[1] : "/"
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        guard
            let request = try? S3Request(
                method: start.first.map(String.init) ?? "GET", rawPath: String(path.first ?? "/"), rawQuery: path.count > 1 ? String(path[1]) : "",
                headers: headers)
        else { return }
        if let operation = try? S3Router(domains: ["s3.test"]).route(request), let bucket = operation.bucket {
            precondition((try? ObjectName.validateBucket(bucket)) != nil, "a routed request names an invalid bucket")
            if case .getObject(let address) = operation {
                precondition((try? ObjectName.validateKey(Array(address.key.utf8))) != nil, "a routed request names an invalid key")
            }
        }
        if let tagging = request.header("x-amz-tagging"), let tags = try? ObjectTags.parse(header: tagging) {
            precondition(tags.count <= ObjectTags.maximumCount && tags.keys.allSatisfy { (1...ObjectTags.maximumKeyLength).contains($0.count) })
        }
        _ = try? RequestAuthenticator(region: "east").authenticate(request, now: Date(timeIntervalSince1970: 1_369_353_600)) { $0 == "AK" ? "secret" : nil }
    }

    /// `aws-chunked` upload bodies, signed and unsigned, fed in two pieces: the data handed on
    /// is never more than what came in.
    static let awsChunked = Target(
        name: "aws-chunked",
        seeds: [
            "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", "3;chunk-signature=00\r\nabc\r\n0;chunk-signature=00\r\n\r\n",
            "fffffffffffffff\r\n", "0\r\n" + String(repeating: "x-a:b\r\n", count: 20) + "\r\n",
        ].map { Array($0.utf8) }
    ) { bytes in
        let signing = RequestAuthenticator.ChunkSigning(
            timestamp: "20130524T000000Z", scope: "20130524/east/s3/aws4_request", seedSignature: String(repeating: "0", count: 64),
            key: .init(data: [UInt8](repeating: 1, count: 32)), trailer: bytes.first.map { $0 & 1 == 1 } ?? false)
        for decoderSigning in [nil, signing] {
            var decoder = AWSChunkedDecoder(signing: decoderSigning)
            var first = ByteBuffer(bytes: bytes.prefix(bytes.count / 2))
            var second = ByteBuffer(bytes: bytes.dropFirst(bytes.count / 2))
            guard let one = try? decoder.decode(&first), let two = try? decoder.decode(&second) else { continue }
            precondition((one + two).reduce(0) { $0 + $1.readableBytes } <= bytes.count, "more data out than in")
            precondition(decoder.decodedBytes <= Int64(bytes.count))
        }
    }

    /// The XML documents S3 clients send: parsed or refused, never nested past the limit.
    static let s3XML = Target(
        name: "s3-xml",
        seeds: [
            "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object></Delete>",
            "<?xml version=\"1.0\"?><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a><![CDATA[<b>]]><!-- c --><d e='f'/></a>", "<a>&#x110000;</a>",
            "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k</Key></Tag></TagSet></Tagging>",
        ].map { Array($0.utf8) }
    ) { bytes in
        if let tags = try? ObjectTags.parse(document: bytes) {
            precondition(tags.count <= ObjectTags.maximumCount && tags.values.allSatisfy { $0.count <= ObjectTags.maximumValueLength })
        }
        guard let tree = try? XMLElementTree.parse(bytes) else { return }
        var depth = 0
        var level = [tree]
        while !level.isEmpty {
            depth += 1
            level = level.flatMap(\.children)
        }
        precondition(depth <= XMLElementTree.maxDepth, "a document nested deeper than the limit was accepted")
    }
}
