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

    init() throws {
        directory = try TemporaryDirectory(prefix: "zonal-lock")
        store = LocalStore(root: directory.file("repo"))
        try store.prepare()
    }

    func lockFiles() throws -> [String] {
        try store.list("locks").map(\.name)
    }

    /// Writes a lock file as another process would have.
    func plant(host: String, pid: Int32, exclusive: Bool, age: TimeInterval) throws -> String {
        let name = "locks/planted-\(host)-\(pid)"
        let holder = RepositoryLock.Holder(host: host, pid: pid, exclusive: exclusive, time: Date().addingTimeInterval(-age))
        try store.write(name, Array(try Repository.json(holder)))
        return name
    }

    @Test("backups share the repository; a prune excludes them and they exclude it, each told who holds the lock")
    func sharedAndExclusive() throws {
        defer { directory.remove() }
        let first = try RepositoryLock.acquire(store, exclusive: false)
        let second = try RepositoryLock.acquire(store, exclusive: false)
        #expect {
            try RepositoryLock.acquire(store, exclusive: true)
        } throws: { error in
            "\(error)".contains("locked by a backup (process \(getpid()) on \(ProcessInfo.processInfo.hostName)")
        }
        first.release()
        second.release()
        let prune = try RepositoryLock.acquire(store, exclusive: true)
        #expect { try RepositoryLock.acquire(store, exclusive: false) } throws: { "\($0)".contains("locked by a prune") }
        #expect { try RepositoryLock.acquire(store, exclusive: true) } throws: { "\($0)".contains("locked by a prune") }
        #expect(try lockFiles().count == 1, "a refused attempt leaves no lock of its own")
        prune.release()
        #expect(try lockFiles().isEmpty)
    }

    @Test("racing processes: never a prune beside anything else, and the lock is still taken", arguments: 0..<3)
    func racing(seed: UInt64) async throws {
        defer { directory.remove() }
        let holders = Mutex((exclusive: 0, shared: 0, violations: 0, exclusiveTaken: 0, sharedTaken: 0))
        let store = self.store
        // Eight real threads (off the cooperative pool), each trying 12 times: three in four want a
        // shared lock, one in four the exclusive one; each holds what it got for a moment while
        // checking the others.
        await onThreads(8) { worker in
            var random = SeededRandom(seed: seed * 100 + UInt64(worker))
            for _ in 0..<12 {
                let exclusive = random.chance(0.25)
                guard let lock = try? RepositoryLock.acquire(store, exclusive: exclusive) else {
                    usleep(UInt32.random(in: 100...2_000, using: &random))
                    continue
                }
                holders.withLock { state in
                    if exclusive { state.exclusive += 1; state.exclusiveTaken += 1 } else { state.shared += 1; state.sharedTaken += 1 }
                    if state.exclusive > 1 || (state.exclusive == 1 && state.shared > 0) { state.violations += 1 }
                }
                usleep(UInt32.random(in: 200...3_000, using: &random))
                holders.withLock { state in
                    if exclusive { state.exclusive -= 1 } else { state.shared -= 1 }
                }
                lock.release()
            }
        }
        let result = holders.withLock { $0 }
        #expect(result.violations == 0)
        #expect(result.exclusiveTaken > 0 && result.sharedTaken > 0, "\(result)")
        #expect(try lockFiles().isEmpty)
    }

    @Test("the lock of a process gone from this host, and one unrefreshed for 30 minutes, are removed; a live one is honoured")
    func staleLocks() throws {
        defer { directory.remove() }
        let gone = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        gone.waitUntilExit()
        let dead = try plant(host: ProcessInfo.processInfo.hostName, pid: gone.processIdentifier, exclusive: true, age: 10)
        let abandoned = try plant(host: "elsewhere", pid: 4242, exclusive: true, age: 31 * 60)
        let live = try plant(host: "elsewhere", pid: 4343, exclusive: false, age: 60)
        #expect {
            try RepositoryLock.acquire(store, exclusive: true)
        } throws: { error in
            "\(error)".contains("locked by a backup (process 4343 on elsewhere") && "\(error)".contains("zonal backup unlock")
        }
        #expect(try !store.exists(dead) && !store.exists(abandoned) && store.exists(live))
        let backup = try RepositoryLock.acquire(store, exclusive: false)
        #expect(try RepositoryLock.removeLocks(in: store, all: false) == 0, "neither the live lock nor our own is stale")
        backup.release()
        #expect(try RepositoryLock.removeLocks(in: store, all: true) == 1)
        try RepositoryLock.acquire(store, exclusive: true).release()
    }

    @Test("an unreadable lock file stops a prune and a backup until unlock removes it")
    func damagedLock() throws {
        defer { directory.remove() }
        try store.write("locks/damaged", Array("{ not json".utf8))
        for exclusive in [false, true] {
            #expect { try RepositoryLock.acquire(store, exclusive: exclusive) } throws: { "\($0)".contains("locks/damaged that cannot be read") }
        }
        #expect(try RepositoryLock.removeLocks(in: store, all: false) == 1, "a lock nobody can read counts as stale for unlock")
        try RepositoryLock.acquire(store, exclusive: true).release()
    }

    @Test("a holder refreshes its lock's time while it runs")
    func refresh() async throws {
        defer { directory.remove() }
        let lock = try RepositoryLock.acquire(store, exclusive: true, refreshInterval: .milliseconds(100))
        defer { lock.release() }
        let name = "locks/" + (try #require(try lockFiles().first))
        let time = { () throws -> Date in try JSONDecoder.zonal().decode(RepositoryLock.Holder.self, from: Data(try store.read(name))).time }
        let written = try time()
        #expect(await poll(timeout: .seconds(5)) { ((try? time()) ?? written) > written } != nil)
    }
}

/// Runs `body` on `count` threads at once and returns when all are done, without holding a
/// cooperative thread meanwhile.
private func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
            done.resume()
        }.start()
    }
}
