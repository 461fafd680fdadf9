import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// The embedded coordinator's journal under a crash or a full disk at every one of its file
/// operations, checkpoints included: recovery always starts, nothing acknowledged is lost, and
/// nothing applied is reported as failed.
@Suite("Coordinator journal: a crash or a full disk at every write")
struct JournalFaultTests {
    /// A workload touching every kind of entry, with a checkpoint every three entries.
    static let checkpointInterval = 3

    static func workload(_ coordinator: EmbeddedCoordinator) -> [@Sendable () async throws -> Void] {
        var steps: [@Sendable () async throws -> Void] = []
        for round in 0..<4 {
            steps.append { try await coordinator.put("/k\(round)", "v\(round)") }
            steps.append { _ = try await coordinator.grantLease(ttl: .seconds(30 + round)) }
            steps.append { try await coordinator.put("/leased\(round)", value: [UInt8(round)], lease: LeaseID(rawValue: Int64(round + 1))) }
            steps.append {
                _ = try await coordinator.transaction(
                    Transaction(
                        compares: [.absent("/t\(round)")],
                        success: [.put(key: "/t\(round)", value: [1, 2], lease: nil), .delete(key: "/k\(round)")]))
            }
            if round % 2 == 1 {
                steps.append { try await coordinator.revokeLease(LeaseID(rawValue: Int64(round))) }
                steps.append { try await coordinator.compact(through: await coordinator.revision - 1) }
            }
            steps.append { try await coordinator.delete("/t\(round)") }
        }
        return steps
    }

    /// The workload run in memory, with step `skipped` left out: the state after each prefix
    /// (`states[n]` after n steps), and the steps that fail because of the one left out.
    static func model(skipping skipped: Int? = nil) async throws -> (states: [KeyValueStore.Snapshot], failures: [Int]) {
        let model = try EmbeddedCoordinator(directory: nil)
        var states = [await model.snapshot]
        var failures: [Int] = []
        for (index, step) in workload(model).enumerated() {
            if index != skipped {
                do { try await step() } catch { failures.append(index) }
            }
            states.append(await model.snapshot)
        }
        return (states, failures)
    }

    func coordinator(_ directory: TemporaryDirectory, files: any JournalFiles) throws -> EmbeddedCoordinator {
        try EmbeddedCoordinator(
            directory: directory.path, clock: VirtualClock(), endpoint: "test",
            checkpointInterval: Self.checkpointInterval, files: files)
    }

    /// How many file operations the whole workload makes when nothing fails.
    func operationCount() async throws -> Int {
        let directory = try TemporaryDirectory(prefix: "zonal-journal")
        defer { directory.remove() }
        let files = FaultyJournalFiles(failAt: nil, mode: .crash)
        let coordinator = try coordinator(directory, files: files)
        for step in Self.workload(coordinator) { try await step() }
        return files.calls
    }

    @Test("a crash at any file operation: the next start recovers every acknowledged change, and at most the one in flight besides")
    func crashAtEveryOperation() async throws {
        let (states, failures) = try await Self.model()
        #expect(failures.isEmpty)
        let count = try await operationCount()
        #expect(count > 40, "the workload makes \(count) file operations")
        for failAt in 1...count {
            let directory = try TemporaryDirectory(prefix: "zonal-journal")
            defer { directory.remove() }
            let files = FaultyJournalFiles(failAt: failAt, mode: .crash)
            var acknowledged = 0
            do {
                let live = try coordinator(directory, files: files)
                for step in Self.workload(live) {
                    try await step()
                    acknowledged += 1
                }
            } catch {
                #expect(files.crashed, "operation \(failAt): failed without the crash: \(error)")
            }
            let recovered: EmbeddedCoordinator
            do {
                recovered = try coordinator(directory, files: SystemJournalFiles())
            } catch {
                Issue.record("operation \(failAt) (\(files.crashedOperation ?? "none")): recovery did not start: \(error)")
                continue
            }
            let state = await recovered.snapshot
            let allowed = states[acknowledged...min(acknowledged + 1, states.count - 1)]
            #expect(
                allowed.contains(state),
                "operation \(failAt) (\(files.crashedOperation ?? "none")) after \(acknowledged) acknowledged steps: recovered revision \(state.revision), leases \(state.lastLeaseID)"
            )
            // The recovered journal takes new writes and keeps them across another restart.
            let revision = try await recovered.put("/after", "crash")
            #expect(await (try coordinator(directory, files: SystemJournalFiles())).get("/after")?.modRevision == revision)
        }
    }

    @Test("a full disk at any file operation: that change alone fails, the journal is cut back, later changes and a restart see exactly what was acknowledged")
    func fullDiskAtEveryOperation() async throws {
        let count = try await operationCount()
        for failAt in 1...count {
            let directory = try TemporaryDirectory(prefix: "zonal-journal")
            defer { directory.remove() }
            let files = FaultyJournalFiles(failAt: failAt, mode: .fullDisk)
            // A start that cannot cut a torn tail off fails; the next one, with space again, starts.
            let live = try (try? coordinator(directory, files: files)) ?? coordinator(directory, files: files)
            var failed: [Int] = []
            for (index, step) in Self.workload(live).enumerated() {
                do { try await step() } catch { failed.append(index) }
            }
            let (states, consequences) = try await Self.model(skipping: failed.first)
            // Only the change whose append hit the full disk fails (and what depends on it,
            // such as a put with the lease it would have granted); a checkpoint's failure fails nothing.
            #expect(
                failed == (failed.first.map { [$0] + consequences } ?? []), "operation \(failAt) (\(files.crashedOperation ?? "none")): steps \(failed) failed")
            let expected = states.last
            #expect(await live.snapshot == expected, "operation \(failAt) (\(files.crashedOperation ?? "none")): the live state is not what was acknowledged")
            let recovered = try coordinator(directory, files: SystemJournalFiles())
            #expect(
                await recovered.snapshot == expected,
                "operation \(failAt) (\(files.crashedOperation ?? "none")): the restart does not see what was acknowledged")
        }
    }

    @Test("the journal checkpoints by size as well as by count")
    func checkpointsBySize() async throws {
        let directory = try TemporaryDirectory(prefix: "zonal-journal")
        defer { directory.remove() }
        let coordinator = try EmbeddedCoordinator(
            directory: directory.path, clock: VirtualClock(), endpoint: "test", checkpointInterval: 1_000_000,
            checkpointBytes: 64 * 1024, files: SystemJournalFiles())
        let value = [UInt8](repeating: 7, count: 4096)
        for index in 0..<64 { try await coordinator.put("/big\(index % 8)", value: value, lease: nil) }
        let journalSize = try #require(try FileManager.default.attributesOfItem(atPath: directory.file("journal"))[.size] as? Int)
        #expect(journalSize < 64 * 1024 + 8192, "the journal grew to \(journalSize) bytes")
        #expect(FileManager.default.fileExists(atPath: directory.file("snapshot")))
        #expect(await (try EmbeddedCoordinator(directory: directory.path)).get("/big3")?.value == value)
    }
}

/// File operations that fail at the `failAt`-th call. `crash`: that call does half its work (an
/// append writes half its bytes, a snapshot leaves a half-written temporary) and nothing after
/// it happens, as if the process died there. `fullDisk`: that call does half its work and fails
/// with ENOSPC; later calls work again.
final class FaultyJournalFiles: JournalFiles, @unchecked Sendable {
    enum Mode { case crash, fullDisk }

    let failAt: Int?
    let mode: Mode
    private(set) var calls = 0
    private(set) var crashed = false
    private(set) var crashedOperation: String?
    private let real = SystemJournalFiles()

    init(failAt: Int?, mode: Mode) {
        self.failAt = failAt
        self.mode = mode
    }

    private func step(_ name: String, _ path: String, half: () -> Void, _ perform: () throws(DurableFileError) -> Void) throws(DurableFileError) {
        if crashed { throw DurableFileError(path: path, action: name, reason: "the process is gone") }
        calls += 1
        guard calls == failAt else { return try perform() }
        half()
        crashedOperation = "\(name) \((path as NSString).lastPathComponent)"
        if mode == .crash { crashed = true }
        throw DurableFileError(path: path, action: name, reason: mode == .crash ? "crashed" : "No space left on device")
    }

    func append(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(DurableFileError) {
        try step("write", path, half: { try? real.append(Array(bytes.prefix(bytes.count / 2)), to: descriptor, path: path) }) { () throws(DurableFileError) in
            try real.append(bytes, to: descriptor, path: path)
        }
    }

    func sync(_ descriptor: Int32, path: String) throws(DurableFileError) {
        try step("sync", path, half: {}) { () throws(DurableFileError) in try real.sync(descriptor, path: path) }
    }

    func truncate(_ descriptor: Int32, to length: Int, path: String) throws(DurableFileError) {
        try step("truncate", path, half: {}) { () throws(DurableFileError) in try real.truncate(descriptor, to: length, path: path) }
    }

    func replace(_ path: String, with bytes: [UInt8]) throws(DurableFileError) {
        let temporary = (path as NSString).deletingLastPathComponent + "/" + DurableFile.temporaryPrefix + "crash"
        try step(
            "replace", path,
            half: {
                if mode == .crash { _ = FileManager.default.createFile(atPath: temporary, contents: Data(bytes.prefix(bytes.count / 2))) }
            }
        ) { () throws(DurableFileError) in try real.replace(path, with: bytes) }
    }
}
