import Foundation
import Testing

@testable import ZonalBackup

/// The signing examples of AWS's S3 documentation ("Signature Calculations for the
/// Authorization Header: Transferring Payload in a Single Chunk"), which any S3 server accepts.
@Suite("S3 request signing")
struct S3SignerTests {
    let signer = S3Signer(
        credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    /// 2013-05-24T00:00:00Z.
    let date = Date(timeIntervalSince1970: 1_369_353_600)
    let host = "examplebucket.s3.amazonaws.com"

    func signature(_ headers: [String: String]) -> String? {
        headers["authorization"]?.components(separatedBy: "Signature=").last
    }

    @Test("GET of an object range")
    func getRange() {
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [:], headers: ["Host": host, "Range": "bytes=0-9"],
            payloadHash: S3Signer.emptyPayloadHash, date: date)
        #expect(headers["authorization"]?.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") == true)
        #expect(signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["x-amz-date"] == "20130524T000000Z")
    }

    @Test("PUT of an object whose name needs encoding, with a body (\"Welcome to Amazon S3.\")")
    func putObject() {
        let headers = signer.sign(
            method: "PUT", path: "/test$file.text", query: [:],
            headers: ["Host": host, "Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"],
            payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: date)
        #expect(S3Signer.encodePath("/test$file.text") == "/test%24file.text")
        #expect(headers["x-amz-content-sha256"] == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET of a bucket listing with a query")
    func listObjects() {
        let headers = signer.sign(
            method: "GET", path: "/", query: ["max-keys": "2", "prefix": "J"], headers: ["Host": host],
            payloadHash: S3Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
        #expect(S3Signer.encodeQuery(["prefix": "data/ab", "continuation-token": "a+b="]) == "continuation-token=a%2Bb%3D&prefix=data%2Fab")
    }

    @Test("locations parse into endpoint, bucket and prefix; bad ones are refused with the form to use")
    func locations() throws {
        let location = try #require(try S3Location(parsing: "s3:http://127.0.0.1:9000/backups/east/db"))
        #expect(location.endpoint == "http://127.0.0.1:9000" && location.host == "127.0.0.1:9000")
        #expect(location.bucket == "backups" && location.prefix == "east/db")
        #expect(location.key("config") == "east/db/config")
        #expect(location.description == "s3:http://127.0.0.1:9000/backups/east/db")
        let bare = try #require(try S3Location(parsing: "s3:https://s3.example.org/backups"))
        #expect(bare.prefix.isEmpty && bare.key("config") == "config" && bare.host == "s3.example.org")
        #expect(try S3Location(parsing: "/var/backups/repo") == nil)
        for bad in ["s3:ftp://host/bucket", "s3:http://host", "s3:http://host/", "s3:http://host/Bad_Bucket", "s3:nonsense"] {
            #expect(throws: BackupError.self, "\(bad)") { try S3Location(parsing: bad) }
        }
        #expect(throws: BackupError.invalid("an S3 repository needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")) {
            try RepositoryLocation.store("s3:http://127.0.0.1:9000/backups", environment: [:])
        }
        #expect(S3Credentials.region(environment: ["AWS_REGION": "eu-west-1"]) == "eu-west-1")
        #expect(S3Credentials.region(environment: [:]) == "us-east-1")
    }
}
