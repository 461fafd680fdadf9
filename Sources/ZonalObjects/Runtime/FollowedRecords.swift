import Foundation
import Logging
import Synchronization
import ZonalCoordination
import ZonalCore

/// Records of one kind in the coordinator, one JSON value per name under `prefix`, followed into
/// a local map (read, then watch) so that looking one up costs nothing; a name the map does not
/// know is read from the coordinator before it is reported missing, so a record another process
/// just wrote is found at once. A value that cannot be read, or that `isValid` refuses, is
/// logged and ignored, never trusted.
final class FollowedRecords<Record: Codable & Sendable>: Sendable {
    let prefix: String
    let coordinator: any Coordinator
    private let clock: any ZonalClock
    private let logger: Logger
    private let isValid: @Sendable (String, Record) -> Bool
    private let known = Mutex<[String: Record]>([:])

    init(
        prefix: String, coordinator: any Coordinator, clock: any ZonalClock, logger: Logger,
        isValid: @escaping @Sendable (String, Record) -> Bool = { _, _ in true }
    ) {
        self.prefix = prefix
        self.coordinator = coordinator
        self.clock = clock
        self.logger = logger
        self.isValid = isValid
    }

    /// Follows the records until cancelled.
    func run() async {
        await PrefixFollower(coordinator: coordinator, prefix: prefix, clock: clock).run(
            onReading: { reading in
                let records = reading.keyValues.compactMap { value in self.decode(value).map { (self.name(of: value.key), $0) } }
                self.known.withLock { $0 = Dictionary(records) { _, last in last } }
            },
            onEvent: { event in
                let record = event.kind == .put ? self.decode(event.keyValue) : nil
                self.known.withLock { $0[self.name(of: event.keyValue.key)] = record }
            },
            onError: { error, pause in
                self.logger.warning("following the coordinator failed", metadata: ["prefix": "\(self.prefix)", "error": "\(error)", "retry_in": "\(pause)"])
            })
    }

    /// Every record as last seen, by name.
    func snapshot() -> [String: Record] {
        known.withLock { $0 }
    }

    /// The record named `name` as last seen, without asking the coordinator.
    func cached(_ name: String) -> Record? {
        known.withLock { $0[name] }
    }

    /// The record named `name`; nil when there is none. What is read from the coordinator is
    /// not put in the map: only the watch does that, so a record deleted meanwhile cannot stay.
    func get(_ name: String) async throws(S3Error) -> Record? {
        if let record = cached(name) { return record }
        return try await stored(name)?.record
    }

    /// The record named `name` as the coordinator has it now, with its revision.
    func stored(_ name: String) async throws(S3Error) -> (record: Record, revision: Int64)? {
        let value: KeyValue?
        do { value = try await coordinator.get(prefix + name) } catch { throw Self.unavailable(error) }
        return value.flatMap { value in decode(value).map { ($0, value.modRevision) } }
    }

    /// Every record, read from the coordinator.
    func all() async throws(S3Error) -> [Record] {
        do { return try await coordinator.range(prefix: prefix).keyValues.compactMap(decode) } catch { throw Self.unavailable(error) }
    }

    /// Writes `record` as `name` if the name is free (`revision` 0) or still at `revision`;
    /// false when another process got there first.
    func write(_ name: String, _ record: Record, ifAt revision: Int64 = 0) async throws(S3Error) -> Bool {
        let value = (try? JSONEncoder.zonal().encode(record)).map(Array.init) ?? []
        let written: Int64?
        do { written = try await coordinator.compareAndSwap(prefix + name, expectedRevision: revision, value: value) } catch { throw Self.unavailable(error) }
        guard written != nil else { return false }
        known.withLock { $0[name] = record }
        return true
    }

    func delete(_ name: String) async throws(S3Error) {
        do { try await coordinator.delete(prefix + name) } catch { throw Self.unavailable(error) }
        _ = known.withLock { $0.removeValue(forKey: name) }
    }

    private func name(of key: String) -> String {
        String(key.dropFirst(prefix.count))
    }

    private func decode(_ value: KeyValue) -> Record? {
        let name = name(of: value.key)
        guard let record = try? JSONDecoder.zonal().decode(Record.self, from: Data(value.value)), isValid(name, record) else {
            logger.warning("ignoring a record in the coordinator that cannot be read", metadata: ["key": "\(value.key)"])
            return nil
        }
        return record
    }

    private static func unavailable(_ error: any Error) -> S3Error {
        S3Error(.serviceUnavailable, "the coordinator did not answer: \(error)")
    }
}
