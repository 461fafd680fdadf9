import Logging
import NIOCore
import PostgresNIO
import ZonalCore

/// The agent's one connection to its own server: what role it plays and where its WAL is, and
/// the few commands the agent sends (replication slots). Reconnects on demand.
actor PostgresSession {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private var connection: PostgresConnection?
    private var nextID = 1

    init(host: String, port: Int, password: ClusterPassword, logger: Logger) {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: "postgres", password: password.secret, database: "postgres", tls: .disable)
        configuration.options.connectTimeout = .seconds(1)
        self.configuration = configuration
        self.logger = logger
    }

    /// The running server's state as seen from inside.
    struct Observation: Sendable, Hashable {
        var inRecovery: Bool
        var position: WALPosition
        var replayed: LogSequenceNumber?
        var streaming: Bool
        var synchronous: SynchronousSet
        var replayLagSeconds: Double?
    }

    /// `walTimeline`: the newest timeline in the data directory's `pg_wal`, which a standby that is
    /// not streaming cannot report itself.
    func observe(walTimeline: Int?) async throws -> Observation {
        let rows = try await run(
            """
            SELECT pg_is_in_recovery(),
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
                   pg_last_wal_receive_lsn()::text,
                   pg_last_wal_replay_lsn()::text,
                   (SELECT received_tli FROM pg_stat_get_wal_receiver()),
                   (SELECT status FROM pg_stat_get_wal_receiver()),
                   (SELECT timeline_id FROM pg_control_checkpoint()),
                   current_setting('synchronous_standby_names'),
                   EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
            """)
        for try await (inRecovery, written, walFile, received, replayed, receivedTimeline, receiverStatus, checkpointTimeline, standbyNames, replayLag)
            in rows.decode((Bool, String?, String?, String?, String?, Int32?, String?, Int32, String, Double?).self)
        {
            let synchronous = ServerConfiguration.parseSynchronousStandbyNames(standbyNames)
            if !inRecovery {
                // The WAL file name starts with the timeline in hex; it changes at promotion at
                // once, unlike the checkpoint's timeline.
                let timeline = walFile.flatMap { Int($0.prefix(8), radix: 16) } ?? Int(checkpointTimeline)
                return Observation(
                    inRecovery: false, position: WALPosition(timeline: timeline, lsn: written.flatMap { LogSequenceNumber($0) } ?? .zero),
                    replayed: nil, streaming: false, synchronous: synchronous, replayLagSeconds: nil)
            }
            let replayedLSN = replayed.flatMap { LogSequenceNumber($0) }
            let receivedLSN = received.flatMap { LogSequenceNumber($0) }
            let lsn = max(receivedLSN ?? .zero, replayedLSN ?? .zero)
            let timeline = max(Int(receivedTimeline ?? 0), Int(checkpointTimeline), walTimeline ?? 0)
            return Observation(
                inRecovery: true, position: WALPosition(timeline: timeline, lsn: lsn), replayed: replayedLSN,
                streaming: receiverStatus == "streaming", synchronous: synchronous, replayLagSeconds: replayLag)
        }
        throw DatabaseError.query("the state query returned no row")
    }

    /// Creates the physical replication slots named, keeping existing ones; drops Zonal's slots
    /// (prefix `zonal_`) that are no longer wanted.
    func keepReplicationSlots(_ wanted: Set<String>) async throws {
        var existing: Set<String> = []
        for try await name in try await run("SELECT slot_name::text FROM pg_replication_slots WHERE slot_type = 'physical'").decode(String.self) {
            existing.insert(name)
        }
        for slot in wanted.subtracting(existing).sorted() {
            try await run(PostgresQuery(unsafeSQL: "SELECT pg_create_physical_replication_slot('\(slot)', true)"))
        }
        for slot in existing.subtracting(wanted).sorted() where slot.hasPrefix("zonal_") {
            try await run(
                PostgresQuery(unsafeSQL: "SELECT pg_drop_replication_slot('\(slot)') FROM pg_replication_slots WHERE slot_name = '\(slot)' AND NOT active"))
        }
    }

    func checkpoint() async throws {
        try await run("CHECKPOINT")
    }

    /// Closes the connection (the server is being stopped or restarted).
    func disconnect() async {
        if let connection { try? await connection.close() }
        connection = nil
    }

    @discardableResult
    private func run(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        do {
            return try await connected().query(query, logger: logger)
        } catch {
            await disconnect()
            throw error
        }
    }

    private func connected() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        nextID += 1
        let fresh = try await PostgresConnection.connect(configuration: configuration, id: nextID, logger: logger)
        connection = fresh
        return fresh
    }
}
