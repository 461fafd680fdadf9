import ArgumentParser
import Foundation
import ZonalBackup
import ZonalCore

struct BackupCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Back up paths as a new snapshot (the default: `zonal backup PATH...`).")
    @OptionGroup var repository: RepositoryOptions
    @Option(
        name: .customLong("exclude"),
        help: "A pattern to leave out (repeatable): `*.tmp` or `.cache` for names anywhere, `/var/cache` for a path, `build/*.o` for a path's end.")
    var excludes: [String] = []
    @Flag(name: [.customShort("x"), .long], help: "Stay on the file system of each path given; mount points below are kept empty.") var oneFileSystem = false
    @Argument(help: "Files or directories to back up.") var paths: [String]

    func run() async throws {
        let opened = try await repository.open()
        let terminal = isatty(STDERR_FILENO) != 0
        let started = ContinuousClock.now
        let runner = BackupRunner(repository: opened, excludes: ExcludeRules(excludes), oneFileSystem: oneFileSystem) { progress in
            guard terminal else { return }
            let elapsed = max((ContinuousClock.now - started).seconds, 0.001)
            let line =
                "\(progress.files) files, \(ByteText.format(progress.bytes)), \(ByteText.format(Int64(Double(progress.bytes) / elapsed)))/s  \(progress.currentPath.suffix(40))"
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        }
        let result = try await runner.run(paths: paths)
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let summary = result.snapshot.summary
        let seconds = (ContinuousClock.now - started).seconds
        print("snapshot \(result.snapshot.id.prefix(12)) saved: \(summary.files) files, \(summary.directories) directories, \(ByteText.format(summary.bytes))")
        print(
            "added \(ByteText.format(summary.newBytes)) of new data (\(ByteText.format(summary.storedBytes)) stored) in \(String(format: "%.1f", seconds)) s, \(ByteText.format(Int64(Double(summary.bytes) / max(seconds, 0.001))))/s"
        )
        try reportWarnings(result.warnings) { "\($0) file(s) could not be read (listed above); the snapshot holds everything else" }
    }
}
