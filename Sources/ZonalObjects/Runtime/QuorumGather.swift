/// Gathers the answers of requests sent to several replica nodes at once: every answer when all
/// come quickly, else those in once enough are in and the others had a grace, so a node that
/// hangs slows a read, a write or a listing by no more than that grace.
enum QuorumGather {
    /// The results of `tasks` by index. After each result `grace` is asked about those in so
    /// far: nil while they are not enough, zero to stop at once, or how long the rest may still
    /// take (counted from the first time it says so).
    static func results<Value: Sendable>(of tasks: [Task<Value, Never>], grace: ([Int: Value]) -> Duration?) async -> [Int: Value] {
        let (finished, continuation) = AsyncStream.makeStream(of: Int?.self)
        for (index, task) in tasks.enumerated() {
            Task {
                _ = await task.value
                continuation.yield(index)
            }
        }
        var results: [Int: Value] = [:]
        var graceStarted = false
        for await index in finished {
            guard let index else { break }
            results[index] = await tasks[index].value
            if results.count == tasks.count { break }
            guard let remaining = grace(results) else { continue }
            if remaining <= .zero { break }
            if !graceStarted {
                graceStarted = true
                Task {
                    try? await Task.sleep(for: remaining)
                    continuation.yield(nil)
                }
            }
        }
        continuation.finish()
        return results
    }
}

extension Result {
    var succeeded: Bool {
        if case .success = self { true } else { false }
    }
}
