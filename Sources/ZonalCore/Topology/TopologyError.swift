/// One thing wrong with a topology file, pointing at the line an operator has to fix.
public struct TopologyProblem: Hashable, Sendable, CustomStringConvertible {
    /// 1-based line in the file; nil for a topology built in code.
    public var line: Int?
    public var message: String

    public init(line: Int?, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "line \($0): \(message)" } ?? message
    }
}

/// A topology that cannot be used, with every problem found (not just the first), so that one
/// `zonal validate` run is enough to fix a file.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    /// The file the problems are in, when the topology came from a file.
    public var file: String?
    public var problems: [TopologyProblem]

    public init(file: String?, problems: [TopologyProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        let prefix = file.map { "\($0): " } ?? ""
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "\(prefix)invalid topology (\(count)):\n" + problems.map { "  \(prefix)\($0)" }.joined(separator: "\n")
    }
}

/// Where each named part of a topology was written, so that checks made after parsing can
/// still name a line. Keys are paths such as `services.web.nodes.east-a-1`.
public struct TopologySourceMap: Sendable, Hashable {
    private var lines: [String: [Int]] = [:]

    public init() {}

    /// The line where `path` was first written.
    public subscript(path: String) -> Int? {
        lines[path]?.first
    }

    /// Every line where `path` was written, in file order; more than one means a duplicate.
    public func lines(of path: String) -> [Int] {
        lines[path] ?? []
    }

    /// The last components of every recorded path under `prefix`, in no particular order.
    public func paths(withPrefix prefix: String) -> [String] {
        lines.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    public mutating func record(_ path: String, line: Int?) {
        guard let line else { return }
        lines[path, default: []].append(line)
    }
}
