import Foundation
import Synchronization
import ZonalCore

/// Keeps a pruning process away from everything else: a backup (or copy) holds a shared lock,
/// prune an exclusive one. Each lock is a file `locks/<random id>` naming its kind, host, process
/// and when it was last refreshed.
///
/// Taking a lock is "look, write, look again": after writing its own file a process lists the
/// locks once more and backs off if a conflicting one appeared meanwhile. Two processes racing
/// each see the other on their second look (whichever wrote last saw the first's file), so at
/// most one of them proceeds — never a prune beside a backup whose new snapshot needs the data
/// the prune is deleting.
///
/// A lock is stale, and is removed by the next process that meets it, when its process is gone
/// (same host) or when it was not refreshed for ``staleAfter`` (any host: a machine that died
/// holding it). Holders refresh theirs every ``refreshInterval``.
public final class RepositoryLock: Sendable {
    /// What a lock file says.
    struct Holder: Codable, Sendable {
        var host: String
        var pid: Int32
        var exclusive: Bool
        var time: Date

        var kind: String { exclusive ? "a prune" : "a backup" }

        func conflicts(with other: Holder) -> Bool {
            exclusive || other.exclusive
        }

        /// Whether the lock's holder is surely gone, seen from this host at `now`.
        func isStale(now: Date) -> Bool {
            if host == ProcessInfo.processInfo.hostName, kill(pid, 0) != 0, errno == ESRCH { return true }
            return now.timeIntervalSince(time) > RepositoryLock.staleAfter.seconds
        }
    }

    /// How often a holder rewrites its lock file with the current time.
    public static let refreshInterval: Duration = .seconds(300)
    /// How long an unrefreshed lock is honoured: six missed refreshes.
    public static let staleAfter: Duration = .seconds(1800)

    private let file: LockFile
    private let refresher: Task<Void, Never>

    private init(file: LockFile, holder: Holder, refreshInterval: Duration, clock: any ZonalClock) {
        self.file = file
        refresher = Task {
            var holder = holder
            while (try? await clock.sleep(for: refreshInterval)) != nil {
                holder.time = Date()
                // A failed refresh is retried at the next interval; only six in a row make the lock stale.
                await file.rewrite(holder)
            }
        }
    }

    /// Takes the lock, or throws naming who holds a conflicting one.
    public static func acquire(
        _ store: any RepositoryStore, exclusive: Bool,
        refreshInterval: Duration = RepositoryLock.refreshInterval,
        clock: any ZonalClock = SystemClock()
    ) async throws(BackupError) -> RepositoryLock {
        let holder = Holder(host: ProcessInfo.processInfo.hostName, pid: getpid(), exclusive: exclusive, time: Date())
        try await refuseIfConflicting(with: holder, in: store, except: nil)
        let name = "locks/\(Repository.randomName())"
        try await store.write(name, Array(try Repository.json(holder)))
        do {
            try await refuseIfConflicting(with: holder, in: store, except: name)
        } catch {
            try? await store.remove(name)
            throw error
        }
        return RepositoryLock(file: LockFile(store: store, name: name), holder: holder, refreshInterval: refreshInterval, clock: clock)
    }

    /// Removes stale locks (or, with `all`, every lock) and returns how many went. For an
    /// operator who knows the holder is gone before ``staleAfter`` has passed.
    public static func removeLocks(in store: any RepositoryStore, all: Bool) async throws(BackupError) -> Int {
        var removed = 0
        for (name, holder) in try await holders(in: store) where all || holder.map({ $0.isStale(now: Date()) }) ?? true {
            try await store.remove(name)
            removed += 1
        }
        return removed
    }

    deinit {
        refresher.cancel()
    }

    public func release() async {
        refresher.cancel()
        await file.remove()
    }

    /// Throws if a live lock other than `except` conflicts with `holder`, after removing every stale one.
    private static func refuseIfConflicting(with holder: Holder, in store: any RepositoryStore, except: String?) async throws(BackupError) {
        var conflict: BackupError?
        for (name, other) in try await holders(in: store) where name != except {
            // An unreadable lock file is a damaged one (writes appear whole): honour it as exclusive.
            guard let other else {
                conflict =
                    conflict
                    ?? .invalid("the repository has a lock \(name) that cannot be read; if no backup or prune is running, `zonal backup unlock` removes it")
                continue
            }
            if other.isStale(now: Date()) {
                try? await store.remove(name)
            } else if holder.conflicts(with: other) {
                conflict =
                    conflict
                    ?? .invalid(
                        "the repository is locked by \(other.kind) (process \(other.pid) on \(other.host), refreshed \(other.time)); try again when it ends, or if that process is gone, `zonal backup unlock` removes the lock once it is stale (\(staleAfter.zonalDescription) after its last refresh) and `unlock --all` at once"
                    )
            }
        }
        if let conflict { throw conflict }
    }

    /// Every lock file and what it says (nil when it cannot be read or decoded); a lock released
    /// between the listing and the read is left out.
    private static func holders(in store: any RepositoryStore) async throws(BackupError) -> [(name: String, holder: Holder?)] {
        var holders: [(name: String, holder: Holder?)] = []
        for file in try await store.list("locks") {
            let name = "locks/\(file.name)"
            guard let bytes = try? await store.read(name) else {
                if (try? await store.exists(name)) != false { holders.append((name, nil)) }
                continue
            }
            holders.append((name, try? JSONDecoder.zonal().decode(Holder.self, from: Data(bytes))))
        }
        return holders
    }
}

/// One held lock's file. A refresh and the removal never overlap, and nothing is written after
/// the removal, so a refresh that was under way when the lock was released cannot leave the
/// file behind.
private actor LockFile {
    private let store: any RepositoryStore
    private let name: String
    private var removed = false
    /// The rewrite under way, which the removal waits for.
    private var writing: Task<Void, Never>?

    init(store: any RepositoryStore, name: String) {
        self.store = store
        self.name = name
    }

    func rewrite(_ holder: RepositoryLock.Holder) async {
        guard !removed, let bytes = try? Repository.json(holder) else { return }
        let previous = writing
        let store = self.store
        let name = self.name
        let write = Task {
            await previous?.value
            try? await store.write(name, Array(bytes))
        }
        writing = write
        await write.value
    }

    func remove() async {
        removed = true
        await writing?.value
        try? await store.remove(name)
    }
}
