import Foundation
import ZonalCore

/// Keeps a pruning process away from everything else: a backup holds a shared lock, prune an
/// exclusive one; each is a file in `locks/` naming its host and process, so a lock left by a
/// dead process on this host is recognised and removed.
public final class RepositoryLock: Sendable {
    struct Holder: Codable {
        var host: String
        var pid: Int32
        var exclusive: Bool
        var time: Date
    }

    private let store: any RepositoryStore
    private let name: String

    private init(store: any RepositoryStore, name: String) {
        self.store = store
        self.name = name
    }

    /// Takes the lock, or throws naming who holds a conflicting one.
    public static func acquire(_ store: any RepositoryStore, exclusive: Bool) throws(BackupError) -> RepositoryLock {
        for existing in try store.list("locks").map(\.name) {
            guard let data = try? store.read("locks/\(existing)"), let holder = try? JSONDecoder.zonal().decode(Holder.self, from: Data(data)) else { continue }
            if holder.host == ProcessInfo.processInfo.hostName && kill(holder.pid, 0) != 0 && errno == ESRCH {
                try? store.remove("locks/\(existing)")
                continue
            }
            if exclusive || holder.exclusive {
                throw .invalid("the repository is locked by \(holder.exclusive ? "a prune" : "a backup") (process \(holder.pid) on \(holder.host) since \(holder.time)); try again when it ends")
            }
        }
        let holder = Holder(host: ProcessInfo.processInfo.hostName, pid: getpid(), exclusive: exclusive, time: Date())
        let name = "locks/\(exclusive ? "exclusive" : Repository.randomName())"
        if exclusive, try store.exists(name) { throw .invalid("the repository is being pruned by another process") }
        try store.write(name, Array(try Repository.json(holder)))
        return RepositoryLock(store: store, name: name)
    }

    public func release() {
        try? store.remove(name)
    }
}
