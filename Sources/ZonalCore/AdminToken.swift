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
        // A hex string is never empty, so this cannot fail.
        try! AdminToken(secret: SecretFile.randomSecret())
    }

    /// Never the secret: tokens end up in logs through string interpolation.
    public var description: String { "AdminToken(…)" }

    /// Whether `presented` is this token, in time independent of where the two first differ.
    public func matches(_ presented: some StringProtocol) -> Bool {
        ConstantTime.equal(expected: secret, presented: presented)
    }

    /// What an HTTP client sends: `Authorization: Bearer <token>`.
    public var authorizationHeader: String { "Bearer \(secret)" }

    // MARK: Files

    /// The token file of a state directory, created with a new token (mode 0600) when missing.
    public static func loadOrCreate(stateDirectory: String) throws(AdminTokenError) -> AdminToken {
        let path = "\(stateDirectory)/\(fileName)"
        let secret: String
        do { secret = try SecretFile.loadOrCreate(path) } catch { throw .unreadable(path: path, reason: error.reason) }
        return try token(in: path, secret)
    }

    /// Reads a token file, refusing one that other users could read (as ssh does with keys).
    public static func load(file path: String) throws(AdminTokenError) -> AdminToken {
        let secret: String
        do { secret = try SecretFile.read(path) } catch { throw .unreadable(path: path, reason: error.reason) }
        return try token(in: path, secret)
    }

    private static func token(in path: String, _ secret: String) throws(AdminTokenError) -> AdminToken {
        do { return try AdminToken(secret: secret) } catch { throw .unreadable(path: path, reason: "the file is empty") }
    }

    /// The token a command should present, from the first of: `tokenFile` (a `--token-file`),
    /// `ZONAL_TOKEN`, `ZONAL_TOKEN_FILE`, the state directory's token file. Nil when there is none
    /// anywhere (a request without it will then be refused with the reason).
    public static func find(
        tokenFile: String?, stateDirectory: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(AdminTokenError) -> AdminToken? {
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
