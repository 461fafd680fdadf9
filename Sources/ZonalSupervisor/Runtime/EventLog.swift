import Foundation
import Logging
import Synchronization
import ZonalCore

/// Keeps the supervisor's events in memory for the API and appends each as a JSON line to a
/// file, so the timeline survives the supervisor.
public final class EventLog: Sendable {
    private let events = Mutex<[SupervisorEvent]>([])
    private let file: FileHandle?
    private let logger: Logger
    /// Older events are dropped from memory (not from the file) past this many.
    private let memoryLimit = 10_000

    public init(path: String?, logger: Logger) {
        self.logger = logger
        guard let path else {
            file = nil
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640])
        }
        file = FileHandle(forWritingAtPath: path)
        _ = try? file?.seekToEnd()
    }

    public func record(_ event: SupervisorEvent) {
        logger.notice("\(event.kind.rawValue)", metadata: ["subject": "\(event.subject)", "event": "\(event.message)"])
        let line = (try? JSONEncoder.zonal().encode(event)).map { $0 + Data("\n".utf8) }
        events.withLock { events in
            events.append(event)
            if events.count > memoryLimit { events.removeFirst(events.count - memoryLimit) }
            if let line { try? file?.write(contentsOf: line) }
        }
    }

    public var all: [SupervisorEvent] {
        events.withLock { $0 }
    }
}
