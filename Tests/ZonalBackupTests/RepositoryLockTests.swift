import Foundation
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalBackup

@Suite("Repository locks")
struct RepositoryLockTests {
    let directory: TemporaryDirectory
    let store: any RepositoryStore

    init() async throws {
        directory = try TemporaryDirectory(prefix: "zonal-lock")
        store = LocalStore(root: directory.file("repo"))
        try await store.prepare()
    }

    func lockFiles() async throws -> [String] {
        try await store.list("locks").map(\.name)
    }

    /// Writes a lock file as another process would have.
    func plant(host: String, pid: Int32, exclusive: Bool, age: TimeInterval) async throws -> String {
        let name = "locks/planted-\(host)-\(pid)"
        let holder = RepositoryLock.Holder(host: host, pid: pid, exclusive: exclusive, time: Date().addingTimeInterval(-age))
        try await store.write(name, Array(try Repository.json(holder)))
        return name
    }

    @Test("backups share the repository; a prune excludes them and they exclude it, each told who holds the lock")
    func sharedAndExclusive() async throws {
        defer { directory.remove() }
        let first = try await RepositoryLock.acquire(store, exclusive: false)
        let second = try await RepositoryLock.acquire(store, exclusive: false)
        await #expect {
            try await RepositoryLock.acquire(store, exclusive: true)
        } throws: { error in
            "\(error)".contains("locked by a backup (process \(getpid()) on \(ProcessInfo.processInfo.hostName)")
        }
        await first.release()
        await second.release()
        let prune = try await RepositoryLock.acquire(store, exclusive: true)
        await #expect { try await RepositoryLock.acquire(store, exclusive: false) } throws: { "\($0)".contains("locked by a prune") }
        await #expect { try await RepositoryLock.acquire(store, exclusive: true) } throws: { "\($0)".contains("locked by a prune") }
        await #expect(try lockFiles().count == 1, "a refused attempt leaves no lock of its own")
        await prune.release()
        await #expect(try lockFiles().isEmpty)
    }

    @Test("racing processes: never a prune beside anything else, and the lock is still taken", arguments: 0..<3)
    func racing(seed: UInt64) async throws {
        defer { directory.remove() }
        let holders = LockHolders()
        let store = self.store
        // Eight tasks, each trying 24 times: three in four want a shared lock, one in four the
        // exclusive one; each holds what it got for a moment while checking the others. They
        // interleave at every request to the store.
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var random = SeededRandom(seed: seed * 100 + UInt64(worker))
                    for _ in 0..<24 {
                        let exclusive = random.chance(0.25)
                        guard let lock = try? await RepositoryLock.acquire(store, exclusive: exclusive) else {
                            try? await Task.sleep(for: .microseconds(UInt64.random(in: 100...2_000, using: &random)))
                            continue
                        }
                        holders.state.withLock { state in
                            if exclusive {
                                state.exclusive += 1
                                state.exclusiveTaken += 1
                            } else {
                                state.shared += 1
                                state.sharedTaken += 1
                            }
                            if state.exclusive > 1 || (state.exclusive == 1 && state.shared > 0) { state.violations += 1 }
                        }
                        try? await Task.sleep(for: .microseconds(UInt64.random(in: 200...3_000, using: &random)))
                        holders.state.withLock { state in
                            if exclusive { state.exclusive -= 1 } else { state.shared -= 1 }
                        }
                        await lock.release()
                        // A pause before the next attempt leaves gaps an exclusive holder can take.
                        try? await Task.sleep(for: .microseconds(UInt64.random(in: 500...4_000, using: &random)))
                    }
                }
            }
        }
        let result = holders.state.withLock { $0 }
        #expect(result.violations == 0)
        // Exclusive attempts may all meet a shared holder (a prune waits for quiet); shared ones
        // always get through somewhere. Afterwards nothing is left and both kinds can be taken.
        #expect(result.sharedTaken > 0, "\(result)")
        await #expect(try lockFiles().isEmpty)
        try await RepositoryLock.acquire(store, exclusive: true).release()
        try await RepositoryLock.acquire(store, exclusive: false).release()
    }

    @Test("the lock of a process gone from this host, and one unrefreshed for 30 minutes, are removed; a live one is honoured")
    func staleLocks() async throws {
        defer { directory.remove() }
        let gone = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        gone.waitUntilExit()
        let dead = try await plant(host: ProcessInfo.processInfo.hostName, pid: gone.processIdentifier, exclusive: true, age: 10)
        let abandoned = try await plant(host: "elsewhere", pid: 4242, exclusive: true, age: 31 * 60)
        let live = try await plant(host: "elsewhere", pid: 4343, exclusive: false, age: 60)
        await #expect {
            try await RepositoryLock.acquire(store, exclusive: true)
        } throws: { error in
            "\(error)".contains("locked by a backup (process 4343 on elsewhere") && "\(error)".contains("zonal backup unlock")
        }
        let deadGone = try await !store.exists(dead)
        let abandonedGone = try await !store.exists(abandoned)
        let liveKept = try await store.exists(live)
        #expect(deadGone && abandonedGone && liveKept)
        let backup = try await RepositoryLock.acquire(store, exclusive: false)
        await #expect(try RepositoryLock.removeLocks(in: store, all: false) == 0, "neither the live lock nor our own is stale")
        await backup.release()
        await #expect(try RepositoryLock.removeLocks(in: store, all: true) == 1)
        try await RepositoryLock.acquire(store, exclusive: true).release()
    }

    @Test("an unreadable lock file stops a prune and a backup until unlock removes it")
    func damagedLock() async throws {
        defer { directory.remove() }
        try await store.write("locks/damaged", Array("{ not json".utf8))
        for exclusive in [false, true] {
            await #expect { try await RepositoryLock.acquire(store, exclusive: exclusive) } throws: { "\($0)".contains("locks/damaged that cannot be read") }
        }
        await #expect(try RepositoryLock.removeLocks(in: store, all: false) == 1, "a lock nobody can read counts as stale for unlock")
        try await RepositoryLock.acquire(store, exclusive: true).release()
    }

    @Test("a holder refreshes its lock's time while it runs")
    func refresh() async throws {
        defer { directory.remove() }
        let clock = VirtualClock()
        let lock = try await RepositoryLock.acquire(store, exclusive: true, refreshInterval: .seconds(300), clock: clock)
        let name = await "locks/" + (try #require(try lockFiles().first))
        let store = self.store
        let time = { @Sendable () async throws -> Date in
            try JSONDecoder.zonal().decode(RepositoryLock.Holder.self, from: Data(try await store.read(name))).time
        }
        let written = try await time()
        #expect(await poll(timeout: .seconds(5)) { clock.sleeperCount == 1 } != nil)
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await time() == written, "nothing is rewritten before the interval")
        clock.advance(by: .seconds(300))
        #expect(await poll(timeout: .seconds(5)) { ((try? await time()) ?? written) > written } != nil)
        await lock.release()
    }
}

/// Runs `body` on `count` threads at once and returns when all are done, without holding a
/// cooperative thread meanwhile.

/// Who holds the lock at the moment, shared by the racing tasks.
private final class LockHolders: Sendable {
    let state = Mutex((exclusive: 0, shared: 0, violations: 0, exclusiveTaken: 0, sharedTaken: 0))
}
