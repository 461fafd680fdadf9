import ArgumentParser
import ZonalBackup
import ZonalCore

struct BackupInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a repository in an empty directory or S3 prefix (the bucket is created if missing).")
    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Succeed without a change when a repository is already there (for scripts and schedules).") var ifMissing = false

    func run() async throws {
        let path = try repository.path
        if ifMissing, try await Repository.exists(at: path) {
            print("a repository is already at \(path)")
            return
        }
        let created = try await Repository.initialize(at: path, password: try repository.password(confirm: true))
        print("created repository \(created.parameters.id.prefix(12)) at \(path)")
        print("keep the password safe: without it the backups cannot be read by anyone, you included")
    }
}
