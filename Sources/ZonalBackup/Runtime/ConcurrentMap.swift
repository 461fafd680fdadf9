extension Sequence where Element: Sendable {
    /// `transform` of every element, in order, with at most `width` running at once; after the
    /// first failure no new one starts, and that failure is thrown once the running ones end.
    func concurrentMap<T: Sendable>(width: Int, _ transform: @escaping @Sendable (Element) async throws(BackupError) -> T) async throws(BackupError) -> [T] {
        let elements = Array(self)
        var results = [T?](repeating: nil, count: elements.count)
        var failure: BackupError?
        await withTaskGroup(of: (Int, Result<T, BackupError>).self) { group in
            var next = 0
            func startNext() {
                guard failure == nil, next < elements.count else { return }
                let (index, element) = (next, elements[next])
                next += 1
                group.addTask {
                    do throws(BackupError) { return (index, .success(try await transform(element))) } catch { return (index, .failure(error)) }
                }
            }
            for _ in 0..<Swift.max(width, 1) { startNext() }
            for await (index, result) in group {
                switch result {
                case .success(let value): results[index] = value
                case .failure(let error): failure = failure ?? error
                }
                startNext()
            }
        }
        if let failure { throw failure }
        return results.map { $0! }
    }
}
