import Foundation
import ZonalCore

/// Everything one node's agent needs, resolved from the topology: who it is, its peers, where
/// its data lives and how failover behaves.
public struct DatabaseNodePlan: Sendable, Hashable {
    /// One node of the cluster as the others reach it.
    public struct Endpoint: Sendable, Hashable {
        public var name: String
        public var zone: String
        public var host: String
        /// PostgreSQL's port.
        public var port: Int
        /// The agent's HTTP API port.
        public var apiPort: Int
        public var promotable: Bool

        public init(name: String, zone: String, host: String, port: Int, apiPort: Int, promotable: Bool = true) {
            self.name = name
            self.zone = zone
            self.host = host
            self.port = port
            self.apiPort = apiPort
            self.promotable = promotable
        }

        public var postgresAddress: String { IPAddressText.hostPort(host, port) }
        public var apiAddress: String { IPAddressText.hostPort(host, apiPort) }
    }

    public var service: String
    public var me: Endpoint
    /// The other nodes of the cluster.
    public var peers: [Endpoint]
    public var settings: DatabaseHA.Settings
    public var dataDirectory: String
    public var serverLogFile: String
    /// Where PostgreSQL's programs are. Default `/usr/lib/postgresql/15/bin`.
    public var binDirectory: String
    /// Base backups and WAL archiving; nil: none.
    public var backup: BackupDestination?
    public var parameters: [String: String]
    /// The cluster's password (see ``ClusterPassword``). Default `<state_dir>/<service>/postgres.password`.
    public var passwordFile: String
    /// The libpq password file PostgreSQL's own programs read as the server's account (a
    /// standby streaming WAL, pg_rewind, pg_basebackup): next to the data directory.
    public var serverPassfile: String { nodeDirectory + "/pgpass" }
    /// The S3 keys of the backup target as the server's archive command reads them (see
    /// ``BackupDestination``): next to the data directory, the server's account's own.
    public var serverBackupCredentialsFile: String { nodeDirectory + "/backup.credentials" }
    /// Where base backups are assembled before they go to the backup target.
    public var backupStagingDirectory: String { nodeDirectory + "/base-backup" }
    private var nodeDirectory: String { (dataDirectory as NSString).deletingLastPathComponent }

    public init(
        service: String, me: Endpoint, peers: [Endpoint], settings: DatabaseHA.Settings, dataDirectory: String, serverLogFile: String,
        binDirectory: String = DatabaseNodePlan.defaultBinDirectory, backup: BackupDestination? = nil, parameters: [String: String] = [:],
        passwordFile: String
    ) {
        self.passwordFile = passwordFile
        self.service = service
        self.me = me
        self.peers = peers
        self.settings = settings
        self.dataDirectory = dataDirectory
        self.serverLogFile = serverLogFile
        self.binDirectory = binDirectory
        self.backup = backup
        self.parameters = parameters
    }

    public static let defaultBinDirectory = "/usr/lib/postgresql/15/bin"

    /// Every node, this one included.
    public var members: [Endpoint] { ([me] + peers).sorted { $0.name < $1.name } }

    func peer(_ name: String) throws -> Endpoint {
        guard let peer = peers.first(where: { $0.name == name }) else {
            throw DatabaseError.query("\(name) is not a node of database service \(service)")
        }
        return peer
    }
}
