import Foundation
import ZonalCore

/// Unique loopback addresses, so that tests running in parallel never share a listening port.
public enum LoopbackAddress {
    /// A random address in 127.0.0.0/8 outside 127.0.0.0/16 (which other tools use).
    public static func random() -> String {
        "127.\(Int.random(in: 10...250)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
    }
}

/// A fresh directory under the system temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "zonal-test") throws {
        path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func write(_ name: String, _ contents: String) throws -> String {
        let target = file(name)
        try contents.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// Writes a file only its owner can read, as secrets must be.
    public func writePrivate(_ name: String, _ contents: String) throws -> String {
        let target = file(name)
        guard FileManager.default.createFile(atPath: target, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw FixtureError("cannot write \(target)")
        }
        return target
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Waits for a condition the way the project's rules ask: polling with a deadline, never a
/// fixed sleep. Returns the elapsed time when the condition held, nil on timeout.
@discardableResult
public func poll(
    every interval: Duration = .milliseconds(50),
    timeout: Duration,
    until condition: () async throws -> Bool
) async rethrows -> Duration? {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < timeout {
        if try await condition() { return clock.now - start }
        try? await Task.sleep(for: interval)
    }
    return try await condition() ? clock.now - start : nil
}

/// Whether a process with this PID exists (zombies included until reaped).
public func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}
