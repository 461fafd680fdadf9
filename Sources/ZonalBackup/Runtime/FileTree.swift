import Foundation

/// Whole directory trees on disk whose names may be any bytes (see ``FileName``), where
/// Foundation's file manager, which walks by strings, would miss some.
enum FileTree {
    /// Removes `path` and everything below it; what cannot be removed stays.
    static func remove(_ path: String) {
        var info = stat()
        guard FileName.withPath(path, { lstat($0, &info) }) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in entries(of: path) ?? [] { remove("\(path)/\(name)") }
            _ = FileName.withPath(path) { rmdir($0) }
        } else {
            _ = FileName.withPath(path) { unlink($0) }
        }
    }

    /// The names in a directory, "." and ".." left out, whatever their bytes; nil (with errno
    /// set) when it cannot be listed.
    static func entries(of path: String) -> [String]? {
        guard let stream = FileName.withPath(path, { opendir($0) }) else { return nil }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if bytes != [0x2E] && bytes != [0x2E, 0x2E] { names.append(FileName.string(from: bytes)) }
        }
        return names
    }
}
