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
            if !allows(S_IXUSR, on: info) {
                throw .unreachableDirectory(path: path, blockedAt: current, account: name)
            }
        }
    }

    /// Whether this account has `bits` (of the owner's part of a mode: `S_IRUSR`, `S_IXUSR`…) on
    /// a file with `info`, through the owner, group or others bits that apply to it.
    func allows(_ bits: mode_t, on info: stat) -> Bool {
        let shift: mode_t = info.st_uid == uid ? 0 : info.st_gid == gid ? 3 : 6
        return info.st_mode & (bits >> shift) != 0
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
