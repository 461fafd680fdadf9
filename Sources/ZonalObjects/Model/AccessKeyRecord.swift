import Foundation
import ZonalCore

/// An access key other than the root key, as the coordinator keeps it under
/// `/zonal/objects/<store>/keys/<id>`: its grants, and its secret sealed (``AccessKeySeal``).
public struct AccessKeyRecord: Sendable, Hashable, Codable {
    public var id: String
    public var sealedSecret: String
    public var created: Date
    public var description: String?
    public var grants: [BucketGrant]

    /// A new key with a random id (`ZK` and 18 hex digits) and secret (32 random bytes, hex);
    /// the secret is returned once and kept only sealed.
    public static func generate(grants: [BucketGrant], description: String?, seal: AccessKeySeal, at date: Date) -> (AccessKeyRecord, secret: String) {
        let id = "ZK" + (0..<9).map { _ in UInt8.random(in: 0...255) }.hex.uppercased()
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }.hex
        return (AccessKeyRecord(id: id, sealedSecret: seal.seal(secret, id: id), created: date, description: description, grants: grants), secret)
    }

    /// Whether `text` has the shape of a generated key id.
    public static func isID(_ text: String) -> Bool {
        text.utf8.count == 20 && text.hasPrefix("ZK")
            && text.utf8.dropFirst(2).allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0)
            }
    }
}
