import ArgumentParser
import Foundation
import ZonalCore
import ZonalDatabase

/// The `restore_command` of point-in-time recovery: exit 1 only when the archive has no such
/// file (the end of recovery); a fatal status for anything else (a damaged file, an unreadable
/// archive, a destination that cannot be written), so that recovery stops with the reason instead
/// of ending early and promoting at an earlier point in time.
struct RestoreWALCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-wal", abstract: "Restore one archived WAL file (PostgreSQL's restore_command).", shouldDisplay: false)

    @OptionGroup var target: WALArchiveOptions
    @Argument(help: "The file's name (%f).") var name: String
    @Argument(help: "Where PostgreSQL wants it (%p).") var path: String

    func run() async throws {
        let found: Bool
        do {
            found = try await target.open().restore(name: name, to: path)
        } catch {
            FileHandle.standardError.write(Data("zonal db restore-wal: \(error)\n".utf8))
            // Above 125: PostgreSQL aborts recovery instead of treating it as the end of the archive.
            throw ExitCode(126)
        }
        guard found else { throw ExitCode(1) }
    }
}
