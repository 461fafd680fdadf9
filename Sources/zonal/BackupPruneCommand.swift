import ArgumentParser
import ZonalBackup
import ZonalCore

struct BackupPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Delete data no snapshot needs; repack partly used packs.")
    @OptionGroup var repository: RepositoryOptions

    func run() async throws {
        try await Self.prune(try repository.open())
    }

    static func prune(_ repository: Repository) async throws {
        let report = try await Pruner(repository: repository).prune()
        print(
            "pruned: \(report.packsDeleted) pack(s) deleted, \(report.packsRewritten) rewritten, \(report.packsKept) kept; \(report.blobsRemoved) blob(s) removed\(report.temporariesRemoved > 0 ? ", \(report.temporariesRemoved) file(s) left by crashed writes removed" : ""), \(ByteText.format(report.bytesFreed)) freed"
        )
    }
}
