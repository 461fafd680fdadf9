import Foundation
import ZonalBackup
import ZonalCore

/// Where one node's base backups and archived WAL go, resolved from `database.backup`: the
/// location a store is opened at (a directory or `s3:http(s)://…`), where its S3 keys come from,
/// and the schedule and retention of base backups.
public struct BackupDestination: Sendable, Hashable {
    /// Where the keys of an S3 destination come from.
    public enum Credentials: Sendable, Hashable {
        /// A directory needs none.
        case none
        /// `AWS_*` of the environment of the process that opens the destination.
        case environment
        /// A file of `AWS_*=value` lines.
        case file(String)
        /// The root secret file of a Zonal object store of the topology, and the store's region.
        case storeSecret(file: String, region: String)
    }

    /// A directory or `s3:http(s)://HOST:PORT/BUCKET/PREFIX`.
    public var location: String
    public var credentials: Credentials
    /// Interval and retention, as the topology gives them.
    public var settings: DatabaseSpec.Backup

    public init(location: String, credentials: Credentials, settings: DatabaseSpec.Backup) {
        self.location = location
        self.credentials = credentials
        self.settings = settings
    }

    /// The destination of service `service` seen from zone `zone`: a `store:` target goes to the
    /// store's front end in that zone (so a zone's primary does not depend on another zone's
    /// front end), else to its first one.
    public init(_ backup: DatabaseSpec.Backup, service: String, topology: Topology, zone: String?, stateDirectory: String) throws(DatabaseError) {
        settings = backup
        let target: DatabaseSpec.Backup.Target
        do { target = try backup.resolvedTarget(service: service) } catch { throw .query("the backup target of \(service): \(error)") }
        switch target {
        case .directory(let path):
            location = path
            credentials = .none
        case .s3(let text):
            location = text
            credentials = backup.credentialsFile.map { .file(URL(fileURLWithPath: $0).standardizedFileURL.path) } ?? .environment
        case .store(let reference):
            guard let frontEnd = reference.frontEnd(in: topology, zone: zone) else {
                throw .query("the backup target of \(service) is object store \(reference.store), which no s3 service of the topology serves")
            }
            location = reference.location(at: frontEnd.endpoint)
            credentials = .storeSecret(
                file: S3Credentials.zonalStoreSecretFile(store: reference.store, stateDirectory: stateDirectory), region: frontEnd.region)
        }
    }

    public var isDirectory: Bool { credentials == .none }
}
