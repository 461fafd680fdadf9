import Foundation
import NIOPosix
import Synchronization
import ZonalCore

/// Commits of one storage node that arrive while others are being written wait and go
/// together: their files renamed into place, each directory they went to fsync'd once, and one
/// index transaction for all. Concurrent small writes so share their fsyncs instead of queueing
/// for one each; a lone write goes at once, as before.
final class CommitGroup: Sendable {
    /// One commit: the upload's file to move into place (none for a record without bytes) and
    /// the index row that makes the version visible.
    struct Request: Sendable {
        struct Move: Sendable {
            var from: String
            var to: String
            var directory: String
        }

        var move: Move?
        var entry: ReplicaIndex.Entry
    }

    private typealias Waiting = (request: Request, continuation: CheckedContinuation<Result<[String], ObjectsError>, Never>)

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    private let index: ReplicaIndex
    private let threadPool: NIOThreadPool
    private let state = Mutex(State())

    init(index: ReplicaIndex, threadPool: NIOThreadPool) {
        self.index = index
        self.threadPool = threadPool
    }

    /// Commits `request` with whatever else is waiting; the files the index no longer names.
    func commit(_ request: Request) async throws(ObjectsError) -> [String] {
        let result = await withCheckedContinuation { continuation in
            let leads = state.withLock { state -> Bool in
                state.waiting.append((request, continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if leads { Task { await self.writeWhileWaiting() } }
        }
        return try result.get()
    }

    /// Writes groups until no commit waits.
    private func writeWhileWaiting() async {
        while true {
            let group = state.withLock { state -> [Waiting] in
                defer { state.waiting = [] }
                if state.waiting.isEmpty { state.writing = false }
                return state.waiting
            }
            guard !group.isEmpty else { return }
            let moves = group.map(\.request.move)
            let moved = (try? await threadPool.runIfActive { Self.place(moves) }) ?? moves.map { _ in .storage("the node is shutting down") }
            let ready = group.indices.filter { moved[$0] == nil }
            let recorded = await index.commit(ready.map { group[$0].request.entry })
            for (index, waiting) in group.enumerated() {
                if let failure = moved[index] {
                    waiting.continuation.resume(returning: .failure(failure))
                } else {
                    waiting.continuation.resume(returning: recorded[ready.firstIndex(of: index)!])
                }
            }
        }
    }

    /// Renames each file into place and fsyncs each directory once; for each move, why it
    /// failed (nil when it did not).
    private static func place(_ moves: [Request.Move?]) -> [ObjectsError?] {
        // Directories made here are synced too, with their parents, so the new entries last.
        var created: Set<String> = []
        var failures: [ObjectsError?] = moves.map { move in
            guard let move else { return nil }
            var missing: [String] = []
            var path = move.directory
            while !FileManager.default.fileExists(atPath: path), path.count > 1 {
                missing.append(path)
                path = (path as NSString).deletingLastPathComponent
            }
            if !missing.isEmpty {
                try? FileManager.default.createDirectory(atPath: move.directory, withIntermediateDirectories: true)
                for directory in missing { created.insert((directory as NSString).deletingLastPathComponent) }
            }
            guard rename(move.from, move.to) == 0 else { return ReplicaStore.failure("cannot move the upload into place", errno: errno) }
            return nil
        }
        let directories = Set(moves.indices.compactMap { failures[$0] == nil ? moves[$0]?.directory : nil })
        // Deepest first: a new directory's own entries before the parent that names it.
        for directory in (directories.union(created)).sorted(by: { $0.count > $1.count }) {
            do { try DurableFile.syncDirectory(directory) } catch {
                for index in moves.indices where moves[index].map({ $0.directory.hasPrefix(directory) }) ?? false { failures[index] = .storage("\(error)") }
            }
        }
        return failures
    }
}
