import Foundation
import ZonalCore

/// Makes a directory exactly what a snapshot holds for it: files not in the snapshot are
/// removed, changed ones put back. The snapshot's copy is restored next to the directory first;
/// only when that is complete are the two swapped and the old content deleted, so a failure
/// part-way leaves the directory as it was.
public struct Rollback: Sendable {
    public let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    /// Rolls `path` (a path the snapshot backed up, or one inside it) back to `snapshot`.
    public func rollBack(_ path: String, to snapshot: Snapshot) async throws(BackupError) -> Restorer.Result {
        let target = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let node = try await find(target, in: snapshot) else {
            throw .notFound("\(target) is not in snapshot \(snapshot.id.prefix(12)), which holds \(snapshot.paths.joined(separator: ", "))")
        }
        guard node.kind == .directory, let subtree = node.subtree else {
            throw .invalid("\(target) is a \(node.kind.rawValue) in the snapshot; rollback works on directories (restore a single file instead)")
        }
        let parent = (target as NSString).deletingLastPathComponent
        let suffix = Repository.randomName().prefix(8)
        let staging = "\(parent)/.\((target as NSString).lastPathComponent).zonal-rollback-\(suffix)"
        let retired = "\(parent)/.\((target as NSString).lastPathComponent).zonal-old-\(suffix)"
        guard mkdir(staging, 0o700) == 0 else { throw .io("cannot create \(staging): \(String(cString: strerror(errno)))") }
        let state = RestoreState()
        do throws(BackupError) {
            try await Restorer(repository: repository).restoreTree(subtree, into: staging, state: state)
            chmod(staging, mode_t(node.mode))
            // The copy must be on disk before the directory it replaces is let go.
            do throws(DurableFileError) { try DurableFile.syncFileSystem(containing: staging) } catch { throw BackupError.io(error.description) }
        } catch {
            FileTree.remove(staging)
            throw error
        }
        if FileManager.default.fileExists(atPath: target) {
            guard rename(target, retired) == 0 else { throw .io("cannot move \(target) aside: \(String(cString: strerror(errno)))") }
        }
        guard rename(staging, target) == 0 else {
            let reason = String(cString: strerror(errno))
            rename(retired, target)
            throw .io("cannot put the snapshot's copy in place of \(target): \(reason)")
        }
        do { try DurableFile.syncDirectory(parent) } catch { throw .io(error.description) }
        FileTree.remove(retired)
        return state.result
    }

    /// The node at `path` inside `snapshot`, found from the backed-up path that contains it.
    private func find(_ path: String, in snapshot: Snapshot) async throws(BackupError) -> Node? {
        guard let base = snapshot.paths.first(where: { path == $0 || path.hasPrefix($0 + "/") }) else { return nil }
        var components = [(base as NSString).lastPathComponent]
        components += path.dropFirst(base.count).split(separator: "/").map(String.init)
        var tree: BlobID? = snapshot.tree
        var found: Node?
        for component in components {
            guard let id = tree, let node = try await repository.loadTree(id).nodes.first(where: { $0.name == component }) else { return nil }
            found = node
            tree = node.subtree
        }
        return found
    }
}
