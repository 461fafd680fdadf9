import Foundation
import Testing

@testable import ZonalObjects

@Suite("S3 routing, names and XML")
struct S3RoutingTests {
    func route(
        _ method: String, _ path: String, _ query: String = "", host: String = "127.0.0.1:9200", headers: [(String, String)] = [], domains: [String] = []
    )
        throws -> S3Operation
    {
        try S3Router(domains: domains).route(try S3Request(method: method, rawPath: path, rawQuery: query, headers: [("host", host)] + headers))
    }

    @Test("path-style and virtual-host-style addressing find the same operations")
    func addressing() throws {
        let address = S3Operation.ObjectAddress(bucket: "photos", key: "2026/a b+c.jpg")
        #expect(try route("GET", "/") == .listBuckets)
        #expect(try route("PUT", "/photos") == .createBucket(bucket: "photos"))
        #expect(try route("GET", "/photos/", "list-type=2&prefix=x") == .listObjects(bucket: "photos", version: .v2))
        #expect(try route("GET", "/photos", "location") == .getBucketLocation(bucket: "photos"))
        #expect(try route("GET", "/photos/2026/a%20b+c.jpg") == .getObject(address))
        #expect(try route("GET", "/2026/a%20b+c.jpg", host: "photos.s3.zonal.test:9200", domains: ["s3.zonal.test"]) == .getObject(address))
        #expect(
            try route("PUT", "/photos/x", headers: [("x-amz-copy-source", "/other/a%2Fb")])
                == .copyObject(.init(bucket: "photos", key: "x"), source: .init(bucket: "other", key: "a/b")))
        #expect(try route("POST", "/photos/x", "uploads") == .createMultipartUpload(.init(bucket: "photos", key: "x")))
        let upload = String(repeating: "ab", count: 16)
        #expect(try route("PUT", "/photos/x", "partNumber=3&uploadId=\(upload)") == .uploadPart(.init(bucket: "photos", key: "x"), upload: upload, part: 3))
        #expect(try route("POST", "/photos", "delete") == .deleteObjects(bucket: "photos"))
    }

    @Test("tags: routed per object (buckets have none), parsed from the header and the document within S3's limits")
    func tags() throws {
        let id = String(repeating: "0a", count: 16)
        #expect(try route("GET", "/photos/x", "tagging") == .getObjectTagging(.init(bucket: "photos", key: "x")))
        #expect(try route("PUT", "/photos/x", "tagging&versionId=\(id)") == .putObjectTagging(.init(bucket: "photos", key: "x", versionID: id)))
        #expect(try route("DELETE", "/photos/x", "tagging") == .deleteObjectTagging(.init(bucket: "photos", key: "x")))
        #expect(Self.code { _ = try route("GET", "/photos", "tagging") } == .notImplemented)
        #expect(try ObjectTags.parse(header: "project=zonal&team=a%20b&empty=") == ["project": "zonal", "team": "a b", "empty": ""])
        let document = Array("<Tagging><TagSet><Tag><Key>k</Key><Value>v &amp; w</Value></Tag><Tag><Key>n</Key></Tag></TagSet></Tagging>".utf8)
        #expect(try ObjectTags.parse(document: document) == ["k": "v & w", "n": ""])
        #expect(ObjectTags.document(["b": "2", "a": "1"]).text.contains("<Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key>"))
        let eleven = (0..<11).map { "k\($0)=v" }.joined(separator: "&")
        for (bad, code) in [
            (eleven, S3Error.Code.invalidTag), ("a=1&a=2", .invalidTag), ("=v", .invalidTag), ("\(String(repeating: "k", count: 129))=v", .invalidTag),
            ("k=\(String(repeating: "v", count: 257))", .invalidTag), ("k=%0A", .invalidTag), ("k=%zz", .invalidArgument),
        ] {
            #expect(Self.code { _ = try ObjectTags.parse(header: bad) } == code, "\(bad.prefix(40))")
        }
        #expect(Self.code { _ = try ObjectTags.parse(document: Array("<Tags/>".utf8)) } == .malformedXML)
        #expect(
            Self.code { _ = try ObjectTags.parse(document: Array("<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>".utf8)) } == .malformedXML)
    }

    /// The code of the S3 error `work` throws; nil when it throws none.
    static func code(_ work: () throws -> Void) -> S3Error.Code? {
        do {
            try work()
            return nil
        } catch {
            return (error as? S3Error)?.code
        }
    }

    @Test("versions: versioning of a bucket, listings of versions, a version named in the query or in the copy source")
    func versions() throws {
        let id = String(repeating: "0a", count: 16)
        #expect(try route("PUT", "/photos", "versioning") == .putBucketVersioning(bucket: "photos"))
        #expect(try route("GET", "/photos", "versioning") == .getBucketVersioning(bucket: "photos"))
        #expect(try route("GET", "/photos", "versions&prefix=a") == .listObjectVersions(bucket: "photos"))
        #expect(try route("GET", "/photos/x", "versionId=\(id)") == .getObject(.init(bucket: "photos", key: "x", versionID: id)))
        #expect(try route("DELETE", "/photos/x", "versionId=null") == .deleteObject(.init(bucket: "photos", key: "x", versionID: "null")))
        #expect(
            try route("PUT", "/photos/x", headers: [("x-amz-copy-source", "/photos/x?versionId=\(id)")])
                == .copyObject(.init(bucket: "photos", key: "x"), source: .init(bucket: "photos", key: "x", versionID: id)))
        #expect(throws: S3Error.self) { try route("PUT", "/photos/x", headers: [("x-amz-copy-source", "/photos/x?versionId=1")]) }
        #expect(throws: S3Error.self) { try route("PUT", "/photos/x", headers: [("x-amz-copy-source", "/photos/x?acl")]) }
    }

    @Test("names S3 refuses, and keys that would mean something else as paths, get the right error")
    func badNames() {
        func code(_ method: String, _ path: String, _ query: String = "") -> S3Error.Code? {
            do {
                _ = try route(method, path, query)
                return nil
            } catch let error as S3Error {
                return error.code
            } catch { return nil }
        }
        #expect(code("PUT", "/Bad_Bucket") == .invalidBucketName)
        #expect(code("PUT", "/ab") == .invalidBucketName)
        #expect(code("PUT", "/192.168.1.1") == .invalidBucketName)
        #expect(code("GET", "/b1b/a/../etc/passwd") == .invalidArgument)
        #expect(code("GET", "/b1b/a//b") == .invalidArgument)
        #expect(code("GET", "/b1b/a%00b") == .invalidArgument)
        #expect(code("GET", "/b1b/%ff%fe") == .invalidArgument, "not UTF-8")
        #expect(code("GET", "/b1b/a%zz") == .invalidArgument)
        #expect(code("GET", "/b1b/" + String(repeating: "k", count: 1025)) == .keyTooLong)
        #expect(code("GET", "/b1b/dir/") == nil, "a trailing slash (a directory marker) is a key")
        #expect(code("PUT", "/b1b/x", "partNumber=10001&uploadId=\(String(repeating: "0", count: 32))") == .invalidArgument)
        #expect(code("PUT", "/b1b/x", "partNumber=1&uploadId=../../x") == .noSuchUpload)
        #expect(code("GET", "/b1b/x", "partNumber=2") == nil, "a read of one part")
        #expect(code("GET", "/b1b/x", "partNumber=0") == .invalidArgument)
        #expect(code("GET", "/b1b/x", "partNumber=-1") == .invalidArgument)
        #expect(code("DELETE", "/b1b/x", "partNumber=1") == .invalidRequest)
        #expect(code("GET", "/b1b", "acl") == .notImplemented)
        #expect(code("GET", "/b1b/x", "versionId=3") == .invalidArgument, "not a version id this store made")
        #expect(code("GET", "/b1b/x", "versionId=../../x") == .invalidArgument)
        #expect(code("GET", "/b1b/x", "versionId=null") == nil)
    }

    @Test("request XML: DeleteObjects documents, entities; DOCTYPE, depth and garbage refused")
    func xml() throws {
        let document = try XMLElementTree.parse(
            Array(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
                <Object><Key>a &amp; b &#x263A; &lt;c&gt;</Key></Object><Object><Key><![CDATA[x<y]]></Key></Object></Delete>
                """.utf8))
        #expect(document.localName == "Delete")
        #expect(document.child("Quiet")?.text == "true")
        #expect(document.children("Object").compactMap { $0.child("Key")?.text } == ["a & b ☺ <c>", "x<y"])
        let hostile = [
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>", "<a><b></a>", "<a>", "text", "<a></a><b></b>", "<a>&unknown;</a>",
            String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40), "<a x=1></a>",
        ]
        for text in hostile {
            #expect(throws: S3Error.self, "\(text)") { try XMLElementTree.parse(Array(text.utf8)) }
        }
        var xml = S3XML()
        xml.element("R", root: true) { xml in xml.value("Key", "<&>\u{1}") }
        #expect(xml.text.hasSuffix("<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Key>&lt;&amp;&gt;&#1;</Key></R>"))
    }

    @Test("ranges and conditional headers as S3 evaluates them")
    func conditions() throws {
        func conditions(_ headers: [(String, String)]) throws -> ReadConditions { ReadConditions(try S3Request(method: "GET", rawPath: "/", headers: headers)) }
        #expect(try conditions([("range", "bytes=0-9")]).byteRange(size: 100) == 0...9)
        #expect(try conditions([("range", "bytes=90-")]).byteRange(size: 100) == 90...99)
        #expect(try conditions([("range", "bytes=-10")]).byteRange(size: 100) == 90...99)
        #expect(try conditions([("range", "bytes=50-5000")]).byteRange(size: 100) == 50...99)
        #expect(try conditions([("range", "bytes=0-1,5-6")]).byteRange(size: 100) == nil, "several ranges: the whole object, as S3")
        #expect(throws: S3Error(.invalidRange, "The requested range starts at 100, beyond the object's 100 bytes")) {
            try conditions([("range", "bytes=100-")]).byteRange(size: 100)
        }
        let version = ObjectVersion(bucket: "b", key: "k", versionID: "v", etag: "abc", lastModified: Date(timeIntervalSince1970: 1_000_000))
        try conditions([("if-match", "\"abc\"")]).check(version)
        #expect(throws: S3Error(.preconditionFailed)) { try conditions([("if-match", "\"other\"")]).check(version) }
        #expect(throws: S3Error(.notModified)) { try conditions([("if-none-match", "\"abc\"")]).check(version) }
        #expect(throws: S3Error(.notModified)) {
            try conditions([("if-modified-since", HTTPDate.format(Date(timeIntervalSince1970: 1_000_000)))]).check(version)
        }
        try conditions([("if-modified-since", HTTPDate.format(Date(timeIntervalSince1970: 999_000)))]).check(version)
        #expect(throws: S3Error(.preconditionFailed)) {
            try conditions([("if-unmodified-since", HTTPDate.format(Date(timeIntervalSince1970: 999_000)))]).check(version)
        }
    }
}
