import Foundation
import ZonalCore

/// The operating-system account PostgreSQL runs as: `postgres` when the agent is root (the
/// server refuses to run as root), else the agent's own.
struct ServerAccount: Sendable, Hashable {
    var uid: UInt32
    var gid: UInt32
    var name: String

    static func current() throws(DatabaseError) -> ServerAccount {
        guard geteuid() == 0 else {
            return ServerAccount(uid: geteuid(), gid: getegid(), name: ProcessInfo.processInfo.userName)
        }
        guard let entry = getpwnam("postgres") else { throw .noPostgresUser }
        return ServerAccount(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, name: "postgres")
    }

    /// `setpriv` options that become this account (none when already it).
    var setprivArguments: [String] {
        geteuid() == uid ? [] : ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups"]
    }

    /// Throws when this account cannot walk down to `path` (a parent directory without search
    /// permission for it, such as a home directory of mode 0700).
    func checkCanReach(_ path: String) throws(DatabaseError) {
        var current = ""
        for component in (path as NSString).deletingLastPathComponent.split(separator: "/") {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else { return }  // created later, by us
            let mode = info.st_mode
            let searchable = info.st_uid == uid ? mode & S_IXUSR != 0 : info.st_gid == gid ? mode & S_IXGRP != 0 : mode & S_IXOTH != 0
            if !searchable {
                throw .unreachableDirectory(path: path, blockedAt: current, account: name)
            }
        }
    }

    /// The owner to give new files to: this account when running as root; nil otherwise, when they are ours already.
    var fileOwner: FileOwner? {
        geteuid() == 0 ? FileOwner(uid: uid, gid: gid) : nil
    }

    /// Gives `path` to this account (as root; otherwise it is ours already).
    func own(_ path: String) throws {
        guard geteuid() == 0 else { return }
        try FileManager.default.setAttributes([.ownerAccountID: uid, .groupOwnerAccountID: gid], ofItemAtPath: path)
    }
}
