import Crypto
import CryptoExtras
import Foundation

/// The repository's secret: one key encrypts and authenticates everything stored (AES-256-GCM),
/// one names blobs (HMAC-SHA-256). It is made once at `init` and stored only encrypted by a key
/// derived from the password (scrypt), so the password can change without re-encrypting data,
/// and without the password nothing can be read.
public struct MasterKey: Sendable {
    let encryption: SymmetricKey
    let naming: SymmetricKey

    public static func random() -> MasterKey {
        MasterKey(encryption: SymmetricKey(size: .bits256), naming: SymmetricKey(size: .bits256))
    }

    public func blobID(of bytes: [UInt8]) -> BlobID {
        BlobID(bytes: Array(HMAC<SHA256>.authenticationCode(for: bytes, using: naming)))
    }

    /// Nonce, ciphertext and tag of `plain`, under a fresh random nonce.
    public func seal(_ plain: [UInt8]) -> [UInt8] {
        // Sealing with a random nonce and a valid key cannot fail.
        Array(try! AES.GCM.seal(plain, using: encryption).combined!)
    }

    /// The plain bytes of `sealed`; throws when it was altered or sealed under another key.
    public func open(_ sealed: [UInt8], what: String) throws(BackupError) -> [UInt8] {
        do {
            return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: encryption))
        } catch {
            throw .corrupt("\(what) fails authentication (altered, truncated, or not of this repository)")
        }
    }

    var material: [UInt8] {
        encryption.withUnsafeBytes { Array($0) } + naming.withUnsafeBytes { Array($0) }
    }

    init(encryption: SymmetricKey, naming: SymmetricKey) {
        self.encryption = encryption
        self.naming = naming
    }

    init?(material: [UInt8]) {
        guard material.count == 64 else { return nil }
        self.init(encryption: SymmetricKey(data: material[0..<32]), naming: SymmetricKey(data: material[32..<64]))
    }
}

/// A key file: the master key encrypted under a key derived from a password with scrypt.
public struct KeyFile: Codable, Sendable {
    public var kdf = "scrypt"
    /// scrypt cost: N (rounds), r (block size), p (parallelism). N = 2^15, r = 8 costs 32 MiB
    /// and a fraction of a second per guess.
    public var rounds: Int
    public var blockSize: Int
    public var parallelism: Int
    public var salt: String
    public var sealedKey: String
    public var created: Date

    public static func make(for key: MasterKey, password: String, rounds: Int = 1 << 15) -> KeyFile {
        let salt = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let wrapping = derive(password, salt: salt, rounds: rounds, blockSize: 8, parallelism: 1)
        let sealed = try! AES.GCM.seal(key.material, using: wrapping).combined!
        return KeyFile(rounds: rounds, blockSize: 8, parallelism: 1, salt: Data(salt).base64EncodedString(),
                       sealedKey: sealed.base64EncodedString(), created: Date())
    }

    public func unlock(password: String) throws(BackupError) -> MasterKey {
        guard kdf == "scrypt", let salt = Data(base64Encoded: salt), let sealed = Data(base64Encoded: sealedKey) else {
            throw .corrupt("a key file is not in a known format")
        }
        let wrapping = Self.derive(password, salt: Array(salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        guard let box = try? AES.GCM.SealedBox(combined: sealed), let material = try? AES.GCM.open(box, using: wrapping),
              let key = MasterKey(material: Array(material)) else {
            throw .wrongPassword
        }
        return key
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) -> SymmetricKey {
        // Parameters come from our own key files, whose ranges scrypt accepts.
        try! KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: rounds,
                                  blockSize: blockSize, parallelism: parallelism, maxMemory: 256 << 20)
    }
}
