import Foundation
import Subprocess
import ZonalCore

/// Healthy when the command exits with status 0; its standard error explains a failure.
public struct CommandProbe: HealthProbe {
    /// Program and arguments; a program without a slash is looked up in `PATH`.
    public var command: [String]

    public init(command: [String]) {
        self.command = command
    }

    public func check() async -> ProbeOutcome {
        guard let program = command.first else { return .failure(reason: "empty command") }
        let executable: Executable = program.contains("/") ? .path(.init(program)) : .name(program)
        do {
            let result = try await run(
                executable, arguments: .init(Array(command.dropFirst())),
                output: .discarded, error: .string(limit: 4096))
            switch result.terminationStatus {
            case .exited(0):
                return .success(detail: "\(program) exited 0")
            case .exited(let code):
                return .failure(reason: "\(program) exited \(code)\(Self.excerpt(result.standardError))")
            case .signaled(let signal):
                return .failure(reason: "\(program) killed by signal \(signal)")
            }
        } catch {
            return .failure(reason: "cannot run \(program): \(error)")
        }
    }

    private static func excerpt(_ text: String?) -> String {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return "" }
        return ": " + String(text.suffix(200))
    }
}
