import Foundation
import Testing

@testable import ZonalObjects

/// Which key may do what, and secrets that only the store's root secret opens.
@Suite("Access keys and grants")
struct AccessTests {
    @Test("a read grant reads, a read-write grant also writes, bucket settings stay with the root key, a copy needs both sides")
    func grants() throws {
        let rights = KeyRights(isRoot: false, grants: [try BucketGrant(parsing: "logs:read"), try BucketGrant(parsing: "inbox")])
        func allowed(_ operation: S3Operation) -> Bool { (try? rights.authorize(operation)) != nil }
        let logs = S3Operation.ObjectAddress(bucket: "logs", key: "a")
        let inbox = S3Operation.ObjectAddress(bucket: "inbox", key: "a")
        #expect(allowed(.getObject(logs)) && allowed(.listObjects(bucket: "logs", version: .v2)) && allowed(.listObjectVersions(bucket: "logs")))
        #expect(!allowed(.putObject(logs)) && !allowed(.deleteObject(logs)) && !allowed(.deleteObjects(bucket: "logs")))
        #expect(allowed(.putObject(inbox)) && allowed(.deleteObjects(bucket: "inbox")) && allowed(.uploadPart(inbox, upload: "u", part: 1)))
        #expect(allowed(.copyObject(inbox, source: logs)) && !allowed(.copyObject(logs, source: inbox)))
        #expect(!allowed(.copyObject(inbox, source: .init(bucket: "other", key: "x"))), "no read on the source")
        #expect(!allowed(.createBucket(bucket: "inbox")) && !allowed(.putBucketVersioning(bucket: "inbox")) && !allowed(.deleteBucket(bucket: "inbox")))
        #expect(allowed(.listBuckets) && rights.canRead("logs") && !rights.canRead("other"))
        #expect(KeyRights(isRoot: false, grants: [try BucketGrant(parsing: "*:read")]).canRead("anything"))
        #expect((try? KeyRights.root.authorize(.deleteBucket(bucket: "x"))) != nil)
        #expect(throws: S3Error.self) { try BucketGrant(parsing: "logs:admin") }
        #expect(throws: S3Error.self) { try BucketGrant(parsing: "Bad_Name") }
    }

    @Test("a sealed secret opens with the same root secret and key id only")
    func sealing() {
        let seal = AccessKeySeal(rootSecret: "root-1")
        let sealed = seal.seal("the secret", id: "ZK000000000000000001")
        #expect(!sealed.contains("the secret"))
        #expect(seal.open(sealed, id: "ZK000000000000000001") == "the secret")
        #expect(seal.open(sealed, id: "ZK000000000000000002") == nil, "moved to another key")
        #expect(AccessKeySeal(rootSecret: "root-2").open(sealed, id: "ZK000000000000000001") == nil)
        #expect(seal.open("not base64 !", id: "ZK000000000000000001") == nil)
        #expect(AccessKeyRecord.isID("ZK000000000000000001") && !AccessKeyRecord.isID("ZK00000000000000000g") && !AccessKeyRecord.isID("../etc"))
    }
}
