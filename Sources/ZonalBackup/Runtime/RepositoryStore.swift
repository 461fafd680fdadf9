import Foundation

/// Where a repository's files live: a local directory or an S3 bucket. Files are written whole
/// and never changed, so a store needs only whole-file writes that appear all at once, reads by
/// offset, listings and removal — what both a file system and S3 give.
public protocol RepositoryStore: Sendable {
    /// The location as the operator wrote it, for messages.
    var location: String { get }

    /// True when the store holds no file at all, so a repository may be created in it.
    func isEmpty() async throws(BackupError) -> Bool
    /// Makes the store ready to receive a new repository (a directory, a bucket).
    func prepare() async throws(BackupError)
    func exists(_ name: String) async throws(BackupError) -> Bool
    /// Writes `bytes` as `name` (for example `data/ab/ab12…`), durably and all at once.
    func write(_ name: String, _ bytes: [UInt8]) async throws(BackupError)
    func read(_ name: String) async throws(BackupError) -> [UInt8]
    /// `length` bytes of `name` from `offset`.
    func read(_ name: String, offset: Int, length: Int) async throws(BackupError) -> [UInt8]
    /// The files under directory `name` (recursively), named relative to it, sorted by name.
    func list(_ name: String) async throws(BackupError) -> [StoredFile]
    /// Removes `name`; removing what is already gone is not an error.
    func remove(_ name: String) async throws(BackupError)
    /// Removes what writes cut short by a crash left under directory `name` (stores whose
    /// writes cannot be cut short have none); returns their number and total size. Only for a
    /// holder of the exclusive lock, when no write can be in progress there.
    func removeTemporaries(under name: String) async throws(BackupError) -> (count: Int, bytes: Int64)
}

/// A file in a store and its size.
public struct StoredFile: Sendable, Hashable {
    /// Relative to the listed directory, for example `ab/ab12…` under `data`.
    public var name: String
    public var size: Int64

    public init(name: String, size: Int64) {
        self.name = name
        self.size = size
    }

    /// The last path component: a pack's or snapshot's id.
    public var baseName: String { (name as NSString).lastPathComponent }
}

/// Opens the store a repository location names: `s3:http(s)://…` for S3, anything else a
/// local directory.
public enum RepositoryLocation {
    public static func store(_ location: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(BackupError) -> any RepositoryStore
    {
        guard let s3 = try S3Location(parsing: location) else { return LocalStore(root: location) }
        return S3Store(location: s3, credentials: try S3Credentials(environment: environment), region: S3Credentials.region(environment: environment))
    }
}
