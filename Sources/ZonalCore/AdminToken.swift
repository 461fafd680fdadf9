import Foundation

/// The shared secret every Zonal control surface wants (the supervisor's control API, the
/// embedded coordinator, balancer admin APIs, database agents).
///
/// `zonal up` creates it on first start as `admin-token` in the state directory, readable by its
/// owner only, and hands its path to every child; a `zonal` command run by the same user finds
/// it there, or takes it from `ZONAL_TOKEN` or a `--token-file`. Secure by default with nothing
/// to configure on one machine.
public struct AdminToken: Sendable, Hashable, CustomStringConvertible {
    /// The secret itself: 64 hex digits for a generated token.
    public let secret: String

    /// The file name inside a state directory.
    public static let fileName = "admin-token"
    /// Holds the token itself; for scripts and tests.
    public static let environmentKey = "ZONAL_TOKEN"
    /// Holds the path of a token file; how `zonal up` tells its children where the token is.
    public static let fileEnvironmentKey = "ZONAL_TOKEN_FILE"

    /// A token from a secret; empty or whitespace-only secrets are refused.
    public init(secret: String) throws(AdminTokenError) {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .empty }
        self.secret = trimmed
    }

    /// A new random token: 32 bytes from the system's generator.
    public static func generate() -> AdminToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // A hex string is never empty, so this cannot fail.
        return try! AdminToken(secret: bytes.hex)
    }

    /// Never the secret: tokens end up in logs through string interpolation.
    public var description: String { "AdminToken(…)" }

    /// Whether `presented` is this token, in time independent of where the two first differ.
    public func matches(_ presented: some StringProtocol) -> Bool {
        let expected = Array(secret.utf8), given = Array(presented.utf8)
        var difference = UInt8(truncatingIfNeeded: expected.count ^ given.count)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }

    /// What an HTTP client sends: `Authorization: Bearer <token>`.
    public var authorizationHeader: String { "Bearer \(secret)" }

    // MARK: Files

    /// The token file of a state directory, created with a new token (mode 0600) when missing.
    public static func loadOrCreate(stateDirectory: String) throws(AdminTokenError) -> AdminToken {
        let path = "\(stateDirectory)/\(fileName)"
        if FileManager.default.fileExists(atPath: path) { return try load(file: path) }
        let token = generate()
        do {
            try DurableFile.write(Array((token.secret + "\n").utf8), to: path, permissions: 0o600)
        } catch {
            throw .unreadable(path: path, reason: error.description)
        }
        return token
    }

    /// Reads a token file, refusing one that other users could read (as ssh does with keys).
    public static func load(file path: String) throws(AdminTokenError) -> AdminToken {
        try SecretFile.checkPrivate(path).mapError { AdminTokenError.unreadable(path: path, reason: $0.reason) }.get()
        let bytes: [UInt8]
        do { bytes = try DurableFile.readAll(path) } catch { throw .unreadable(path: path, reason: error.reason) }
        do {
            return try AdminToken(secret: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .unreadable(path: path, reason: "the file is empty")
        }
    }

    /// The token a command should present, from the first of: `tokenFile` (a `--token-file`),
    /// `ZONAL_TOKEN`, `ZONAL_TOKEN_FILE`, the state directory's token file. Nil when there is none
    /// anywhere (a request without it will then be refused with the reason).
    public static func find(tokenFile: String?, stateDirectory: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(AdminTokenError) -> AdminToken? {
        if let tokenFile { return try load(file: tokenFile) }
        if let secret = environment[environmentKey] { return try AdminToken(secret: secret) }
        if let file = environment[fileEnvironmentKey] { return try load(file: file) }
        if let stateDirectory, FileManager.default.fileExists(atPath: "\(stateDirectory)/\(fileName)") {
            return try load(file: "\(stateDirectory)/\(fileName)")
        }
        return nil
    }
}

public enum AdminTokenError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .empty: "the admin token is empty"
        case .unreadable(let path, let reason): "admin token \(path): \(reason)"
        }
    }
}

/// Files that hold secrets (tokens, passwords, keys) must be private to their owner.
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
}

public struct SecretFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
