/// What changed between two snapshots, path by path: added, removed, and modified (content,
/// type, mode, owner, link target). Identical subtrees are skipped by id without being read.
public struct SnapshotDiff: Sendable {
    public enum Change: String, Sendable, Hashable {
        case added = "+"
        case removed = "-"
        case modified = "M"
    }

    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        public var change: Change
        public var path: String
        public var description: String { "\(change.rawValue) \(FileName.printable(path))" }
    }

    public let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    public func compare(_ old: Snapshot, _ new: Snapshot) async throws(BackupError) -> [Entry] {
        var entries: [Entry] = []
        try await compare(old.tree, new.tree, path: "", into: &entries)
        return entries
    }

    private func nodes(of tree: BlobID?) async throws(BackupError) -> [Node] {
        guard let tree else { return [] }
        return try await repository.loadTree(tree).nodes
    }

    private func compare(_ old: BlobID?, _ new: BlobID?, path: String, into entries: inout [Entry]) async throws(BackupError) {
        guard old != new else { return }
        let before = try await nodes(of: old)
        let after = try await nodes(of: new)
        let oldByName = Dictionary(before.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newByName = Dictionary(after.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(oldByName.keys).union(newByName.keys).sorted() {
            let nodePath = "\(path)/\(name)"
            switch (oldByName[name], newByName[name]) {
            case (nil, let added?):
                entries.append(Entry(change: .added, path: nodePath))
                if added.kind == .directory { try await compare(nil, added.subtree, path: nodePath, into: &entries) }
            case (let removed?, nil):
                entries.append(Entry(change: .removed, path: nodePath))
                if removed.kind == .directory { try await compare(removed.subtree, nil, path: nodePath, into: &entries) }
            case (let before?, let after?):
                if before.kind != after.kind || before.content != after.content || before.mode != after.mode
                    || before.uid != after.uid || before.gid != after.gid || before.linkTarget != after.linkTarget
                    || before.device != after.device
                {
                    entries.append(Entry(change: .modified, path: nodePath))
                }
                if before.kind == .directory || after.kind == .directory {
                    try await compare(
                        before.kind == .directory ? before.subtree : nil, after.kind == .directory ? after.subtree : nil,
                        path: nodePath, into: &entries)
                }
            case (nil, nil):
                break
            }
        }
    }
}
