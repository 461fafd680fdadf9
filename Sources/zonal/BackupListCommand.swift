import ArgumentParser
import ZonalBackup
import ZonalCore

struct BackupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the files of a snapshot.")
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "Snapshot id (a prefix is enough) or `latest`.") var snapshot: String

    func run() async throws {
        let opened = try await repository.open()
        let chosen = try await opened.snapshot(snapshot)
        try await list(opened, tree: chosen.tree, path: "")
    }

    private func list(_ repository: Repository, tree id: BlobID, path: String) async throws {
        for node in try await repository.loadTree(id).nodes {
            let nodePath = "\(path)/\(node.name)"
            let kind =
                switch node.kind {
                case .directory: "d"
                case .symlink: "l"
                case .file: "-"
                case .fifo: "p"
                case .socket: "s"
                case .characterDevice: "c"
                case .blockDevice: "b"
                }
            print(
                "\(kind) \(String(node.mode, radix: 8))  \(String(node.size).padding(toLength: 12, withPad: " ", startingAt: 0)) \(nodePath)\(node.linkTarget.map { " -> \($0)" } ?? "")"
            )
            if let subtree = node.subtree { try await list(repository, tree: subtree, path: nodePath) }
        }
    }
}
