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
        // Our own parameters, within the range scrypt accepts.
        let wrapping = try! derive(password, salt: salt, rounds: rounds, blockSize: 8, parallelism: 1)
        let sealed = try! AES.GCM.seal(key.material, using: wrapping).combined!
        return KeyFile(
            rounds: rounds, blockSize: 8, parallelism: 1, salt: Data(salt).base64EncodedString(),
            sealedKey: sealed.base64EncodedString(), created: Date())
    }

    /// The most memory scrypt may take to open a key file (128 · r · N · p bytes): a key file
    /// asking for more is damaged or hostile, not ours.
    public static let maximumMemory = 256 << 20

    public func unlock(password: String) throws(BackupError) -> MasterKey {
        guard kdf == "scrypt", let salt = Data(base64Encoded: salt), let sealed = Data(base64Encoded: sealedKey) else {
            throw .corrupt("a key file is not in a known format")
        }
        // Checked before any multiplication: the numbers come from a file.
        guard (1 << 10...1 << 22).contains(rounds), rounds & (rounds - 1) == 0, (1...32).contains(blockSize), (1...16).contains(parallelism),
            128 * blockSize * rounds * parallelism <= Self.maximumMemory
        else {
            throw .corrupt(
                "a key file asks for scrypt N=\(rounds) r=\(blockSize) p=\(parallelism): N must be a power of two from 2^10 to 2^22, r 1 to 32, p 1 to 16, within \(Self.maximumMemory >> 20) MiB"
            )
        }
        guard let wrapping = try? Self.derive(password, salt: Array(salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism) else {
            throw .corrupt("scrypt refused the key file's parameters N=\(rounds) r=\(blockSize) p=\(parallelism)")
        }
        guard let box = try? AES.GCM.SealedBox(combined: sealed), let material = try? AES.GCM.open(box, using: wrapping),
            let key = MasterKey(material: Array(material))
        else {
            throw .wrongPassword
        }
        return key
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: rounds,
            blockSize: blockSize, parallelism: parallelism, maxMemory: 256 << 20)
    }
}
