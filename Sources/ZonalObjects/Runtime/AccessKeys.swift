import Crypto

/// The access keys a front end accepts and their secrets: the store's root key
/// (``StoreCredentials``), with every right on every bucket.
public struct AccessKeys: Sendable {
    public let root: StoreCredentials

    public init(root: StoreCredentials) {
        self.root = root
    }

    /// The secret of `accessKeyID`; nil when no such key exists.
    public func secret(_ accessKeyID: String) -> String? {
        accessKeyID == root.accessKeyID ? root.secretAccessKey : nil
    }

    /// The owner shown in listings: the key that owns every bucket.
    var ownerID: String { root.accessKeyID }
}

enum SHA256Hex {
    static func of(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).hex
    }
}
