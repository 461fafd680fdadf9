import Foundation

/// Files that hold secrets (tokens, passwords, keys): private to their owner, refused otherwise
/// as ssh refuses such keys, and created so that two processes starting at once agree on one.
public enum SecretFile {
    /// Fails when `path` is readable or writable by its group or by others, naming its mode and
    /// the fix, as ssh does for private keys.
    public static func checkPrivate(_ path: String) -> Result<Void, SecretFileError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(SecretFileError(path: path, reason: String(cString: strerror(errno)))) }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            return .failure(SecretFileError(path: path, reason: "mode \(String(mode, radix: 8)) lets other users read it; run chmod 600 \(path)"))
        }
        return .success(())
    }

    /// The secret in `path`: its first line, without the line break. A file others may read is
    /// refused before it is read.
    public static func read(_ path: String) throws(SecretFileError) -> String {
        try checkPrivate(path).get()
        let bytes: [UInt8]
        do { bytes = try DurableFile.readAll(path) } catch { throw SecretFileError(path: path, reason: error.reason) }
        return String(String(decoding: bytes, as: UTF8.self).prefix { $0 != "\n" && $0 != "\r" })
    }

    /// The secret in `path`, first created there (``randomSecret()``, mode 0600, its directory
    /// made if missing) when there is none. Of two processes creating it at once one wins and
    /// both read the winner's: the new file is linked into place, which never replaces one.
    public static func loadOrCreate(_ path: String) throws(SecretFileError) -> String {
        if !FileManager.default.fileExists(atPath: path) { try create(path) }
        return try read(path)
    }

    /// 32 bytes from the system's generator, in hex.
    public static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hex
    }

    private static func create(_ path: String) throws(SecretFileError) {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/\(DurableFile.temporaryPrefix)secret-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try DurableFile.write(Array((randomSecret() + "\n").utf8), to: temporary, permissions: 0o600)
        } catch {
            throw SecretFileError(path: path, reason: "cannot write it: \(error)")
        }
        defer { unlink(temporary) }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw SecretFileError(path: path, reason: "cannot write it: \(String(cString: strerror(errno)))")
        }
        try? DurableFile.syncDirectory(directory)
    }
}

public struct SecretFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
