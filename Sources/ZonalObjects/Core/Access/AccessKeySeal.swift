import Crypto
import Foundation

/// Keeps access key secrets out of the coordinator in the clear: each is sealed (AES-GCM, the
/// key id as associated data, so a sealed secret moved to another key does not open) with a key
/// derived (HKDF-SHA256) from the store's root secret, which only the front ends and the
/// operator's state directory hold. Signature V4 needs the secret itself on the server, so a
/// hash would not do.
public struct AccessKeySeal: Sendable {
    private let key: SymmetricKey

    public init(rootSecret: String) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(rootSecret.utf8)), info: Array("zonal objects access keys".utf8), outputByteCount: 32)
    }

    /// `secret` sealed for the key `id`, base64.
    public func seal(_ secret: String, id: String) -> String {
        // Sealing with a fresh random nonce cannot fail for a 256-bit key.
        let box = try! AES.GCM.seal(Array(secret.utf8), using: key, authenticating: Array(id.utf8))
        return box.combined!.base64EncodedString()
    }

    /// The secret sealed for `id`; nil when `sealed` was not made by this seal for that key.
    public func open(_ sealed: String, id: String) -> String? {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(id.utf8))
        else { return nil }
        return String(data: plain, encoding: .utf8)
    }
}
