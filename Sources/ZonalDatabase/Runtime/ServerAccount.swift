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

    /// Gives `path` to this account (as root; otherwise it is ours already).
    func own(_ path: String) throws {
        guard geteuid() == 0 else { return }
        try FileManager.default.setAttributes([.ownerAccountID: uid, .groupOwnerAccountID: gid], ofItemAtPath: path)
    }
}

/// Writes a file the way every Zonal file is written: temporary name, fsync, rename, directory fsync.
enum AtomicFile {
    static let temporarySuffix = ".zonal-tmp"

    /// `owner`: the account to give the file to (as root); nil keeps the writer's.
    static func write(_ data: Data, to path: String, owner: ServerAccount? = nil) throws {
        let temporary = path + temporarySuffix
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw DatabaseError.commandFailed(program: "write", status: "failed", output: "cannot create \(temporary)")
        }
        try owner?.own(temporary)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else {
            throw DatabaseError.commandFailed(program: "rename", status: "failed", output: "\(temporary) → \(path): errno \(errno)")
        }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
