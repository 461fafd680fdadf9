import Foundation

/// The `zonal` binary of this process, which runs built-in services (`zonal app`, `zonal db
/// agent`) and the tools PostgreSQL calls back (`zonal db archive-wal`).
public enum ZonalExecutable {
    /// The path of the running binary, resolved through `/proc/self/exe` so that a child started
    /// from another working directory finds it.
    public static var current: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
