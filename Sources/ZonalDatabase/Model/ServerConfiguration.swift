import Foundation

/// The settings the agent owns, written to `zonal.conf` in the data directory and included from
/// `postgresql.conf`; the operator's own settings in `postgresql.conf` stay untouched.
public struct ServerConfiguration: Sendable, Hashable {
    public var listenAddress: String
    public var port: Int
    /// Set on a standby: whom it streams from and through which slot.
    public var upstream: Upstream?
    /// The standbys a primary waits for.
    public var synchronous: SynchronousSet
    /// Whether an empty `synchronous` still blocks commits (strict mode).
    public var strictSynchronous: Bool
    /// `archive_command`, when WAL is archived.
    public var archiveCommand: String?
    /// The topology's `parameters`, written last so they win.
    public var parameters: [String: String]
    /// Set while an instance replays archived WAL up to a moment (point-in-time recovery).
    public var recovery: RecoveryTarget?

    public struct RecoveryTarget: Sendable, Hashable {
        public var restoreCommand: String
        /// `recovery_target_time`, in PostgreSQL's format.
        public var targetTime: String
    }

    public struct Upstream: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var slot: String
        /// Names this node to the primary (`application_name`), which is how
        /// `synchronous_standby_names` refers to it.
        public var applicationName: String
        /// The libpq password file the standby's WAL receiver reads the password from.
        public var passfile: String

        public init(host: String, port: Int, slot: String, applicationName: String, passfile: String) {
            self.host = host
            self.port = port
            self.slot = slot
            self.applicationName = applicationName
            self.passfile = passfile
        }
    }

    public init(
        listenAddress: String, port: Int, upstream: Upstream? = nil, synchronous: SynchronousSet = .empty, strictSynchronous: Bool = false,
        archiveCommand: String? = nil, parameters: [String: String] = [:]
    ) {
        self.listenAddress = listenAddress
        self.port = port
        self.upstream = upstream
        self.synchronous = synchronous
        self.strictSynchronous = strictSynchronous
        self.archiveCommand = archiveCommand
        self.parameters = parameters
    }

    /// A name no node has: strict mode waits for it when no standby is available, so commits
    /// block rather than go unprotected.
    public static let nobody = "zonal_no_standby"

    /// The value of `synchronous_standby_names`.
    public var synchronousStandbyNames: String {
        if synchronous.members.isEmpty {
            return strictSynchronous ? "ANY 1 (\(Self.nobody))" : ""
        }
        return "ANY \(synchronous.quorum) (" + synchronous.members.map { "\"\($0)\"" }.joined(separator: ", ") + ")"
    }

    /// Reads `synchronous_standby_names` back (as `SHOW` prints it).
    public static func parseSynchronousStandbyNames(_ text: String) -> SynchronousSet {
        var body = text.trimmingCharacters(in: .whitespaces)
        guard !body.isEmpty else { return .empty }
        var quorum = 1
        if body.uppercased().hasPrefix("ANY ") || body.uppercased().hasPrefix("FIRST ") {
            let words = body.split(separator: " ", maxSplits: 2)
            if words.count == 3, let count = Int(words[1]) {
                quorum = count
                body = String(words[2])
            }
        }
        let names = body.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
            .filter { !$0.isEmpty && $0 != nobody }
        return SynchronousSet(members: names, quorum: quorum)
    }

    /// The file's text.
    public func render() -> String {
        var settings: [(String, String)] = [
            ("listen_addresses", quoted(listenAddress)),
            ("port", "\(port)"),
            ("unix_socket_directories", "''"),
            ("wal_level", "replica"),
            ("hot_standby", "on"),
            ("hot_standby_feedback", "on"),
            ("wal_log_hints", "on"),
            ("max_wal_senders", "10"),
            ("max_replication_slots", "10"),
            ("wal_keep_size", "'128MB'"),
            ("max_slot_wal_keep_size", "'4GB'"),
            ("wal_receiver_status_interval", "'1s'"),
            // A standby whose primary died retries streaming this often; a promotion waits for
            // the current pause to end (5 s by default), so it is kept short.
            ("wal_retrieve_retry_interval", "'500ms'"),
            ("recovery_target_timeline", "'latest'"),
            ("synchronous_commit", "on"),
            ("synchronous_standby_names", quoted(synchronousStandbyNames)),
            ("archive_mode", archiveCommand == nil ? "off" : "on"),
            ("archive_command", quoted(archiveCommand ?? "")),
            ("archive_timeout", "'60s'"),
            (
                "primary_conninfo",
                quoted(
                    upstream.map {
                        "host=\($0.host) port=\($0.port) user=postgres passfile=\($0.passfile) application_name=\($0.applicationName) connect_timeout=2"
                    } ?? "")
            ),
            ("primary_slot_name", quoted(upstream?.slot ?? "")),
        ]
        if let recovery {
            settings += [
                ("restore_command", quoted(recovery.restoreCommand)),
                ("recovery_target_time", quoted(recovery.targetTime)),
                ("recovery_target_action", "'promote'"),
            ]
        }
        for (key, value) in parameters.sorted(by: { $0.key < $1.key }) {
            settings.append((key, value))
        }
        return "# Written by the Zonal agent; changes here are overwritten. Put your own settings in postgresql.conf\n# or in the topology's `parameters`.\n"
            + settings.map { "\($0.0) = \($0.1)\n" }.joined()
    }

    private func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// The replication slot name for a node: PostgreSQL allows lower-case letters, digits and `_`.
    public static func slotName(for node: String) -> String {
        "zonal_" + String(node.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
